export { cloneVM } from './clone-vm';
export { progressQuery } from './progress';
export { syncVM } from './sync-vm';
export { scheduledCloneVM } from './scheduled-clone-vm';
