export { cloneVM } from './clone-vm';
export { progressQuery } from './progress';
export { syncVM } from './sync-vm';
