export { cloneVM } from './clone-vm';
export { progressQuery } from './progress';
