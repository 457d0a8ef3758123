/** The task queue kvm-clone workers poll unless configured otherwise. */
export const DEFAULT_TASK_QUEUE = 'kvm-clone';
