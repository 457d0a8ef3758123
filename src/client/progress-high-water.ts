import type { OperationProgress } from '../workflows/progress';

/**
 * Keeps followed progress from going backwards. Between a range's activity completing
 * and the workflow counting it, neither the heartbeats nor the workflow hold its bytes,
 * so a poll in that gap reads low; a follower shows the highest count seen instead.
 */
export class ProgressHighWater {
  private total = 0;
  private readonly disks = new Map<string, number>();
  private pass: string | undefined;

  apply(progress: OperationProgress): OperationProgress {
    // A migration's next pass counts from zero again.
    if (progress.pass?.operationId !== this.pass) {
      this.pass = progress.pass?.operationId;
      this.total = 0;
      this.disks.clear();
    }
    this.total = Math.min(progress.bytesTotal, Math.max(this.total, progress.bytesDone));
    const disks = progress.disks.map((disk) => {
      const bytesDone = Math.min(disk.bytesTotal, Math.max(this.disks.get(disk.target) ?? 0, disk.bytesDone));
      this.disks.set(disk.target, bytesDone);
      return { ...disk, bytesDone };
    });
    return { ...progress, bytesDone: this.total, disks };
  }
}
