export { cloneVM } from './clone-vm';
export { progressQuery } from './progress';
export { syncVM } from './sync-vm';
export { scheduledCloneVM } from './scheduled-clone-vm';
export { migrateVM } from './migrate-vm';
export { cutoverSignal, holdCutoverSignal, migrationQuery } from './migration-control';
