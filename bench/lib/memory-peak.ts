/** The worker child's answer to {type:'peak'} (bench/lib/worker-child.cjs). */
export interface MemoryPeak {
  type: 'peak';
  rssBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  /** RSS when the window opened: the idle worker. */
  startRssBytes: number;
  /** How rssBytes was taken. */
  method: 'VmHWM' | 'sampled';
}
