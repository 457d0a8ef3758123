import { extentsFrom, totalLength, type TransferRange } from '../domain/transfer-plan';
import { RemoteDisk } from '../hosts/remote-disk';
import { copyBatches, type RangeCopyInput } from './copy-batches';
import { activityBody, type ActivityDeps } from './deps';
import { whileTicking } from './heartbeat-ticker';

export interface TransferRangeInput extends RangeCopyInput {
  range: TransferRange;
}

/** Heartbeat details: everything before `committedOffset` is written on the destination. */
export interface TransferProgress {
  committedOffset: number;
  /** Data bytes of this range confirmed written: what a retry will not send again. */
  bytesCommitted: number;
  /** Data bytes on their way or written, for progress reports. */
  bytesDone: number;
  bytesTotal: number;
  /** Bytes sent over the wire by this attempt and earlier ones. */
  bytesSent: number;
  target?: string;
}

export interface TransferRangeResult {
  bytesSent: number;
  dataBytes: number;
  /** Bytes this attempt did not send because an earlier attempt had written them. */
  bytesResumed: number;
}

/** The progress of a range nothing of which is written yet. */
function startingProgress(input: TransferRangeInput): TransferProgress {
  return {
    committedOffset: input.range.start,
    bytesCommitted: 0,
    bytesDone: 0,
    bytesTotal: input.range.dataBytes,
    bytesSent: 0,
    ...(input.label ? { target: input.label } : {}),
  };
}

export function transferRange(deps: ActivityDeps) {
  /**
   * Copies the data extents of one range of a file, source host → worker → destination
   * host. A retry resumes after the last batch the destination confirmed.
   */
  return async function transferRange(input: TransferRangeInput): Promise<TransferRangeResult> {
    return activityBody(() =>
      copyBatches<TransferProgress, TransferRangeResult>(deps, input, async (copy) => {
        // A block device is read whole to find its zeros, which can outlast the heartbeat timeout: the ticker
        // heartbeats meanwhile what a lost attempt left, or that nothing is written yet.
        const scanning = copy.resumed ?? startingProgress(input);
        const extents = await whileTicking(
          copy.heartbeat,
          () => scanning,
          () => new RemoteDisk(copy.source).dataExtents(input.sourcePath, input.range),
        );
        const dataBytes = totalLength(extents);
        const committedOffset = copy.resumed?.committedOffset ?? input.range.start;
        const remaining = extentsFrom(extents, committedOffset);
        const bytesResumed = dataBytes - totalLength(remaining);
        const progress: TransferProgress = {
          committedOffset,
          bytesCommitted: bytesResumed,
          bytesDone: bytesResumed,
          bytesTotal: dataBytes,
          bytesSent: copy.resumed?.bytesSent ?? 0,
          ...(input.label ? { target: input.label } : {}),
        };
        copy.heartbeat(progress, true);
        await copy.batches(remaining, {
          // Wire bytes stand in for data bytes until the batch completes; compressed they undercount.
          onBytes: (batchWireBytes) =>
            copy.heartbeat({
              ...progress,
              bytesDone: Math.min(progress.bytesCommitted + batchWireBytes, progress.bytesTotal),
              bytesSent: progress.bytesSent + batchWireBytes,
            }),
          onBatch: (relayed, end) => {
            progress.committedOffset = end;
            progress.bytesCommitted += relayed.dataBytes;
            progress.bytesDone = progress.bytesCommitted;
            progress.bytesSent += relayed.wireBytes;
            copy.heartbeat(progress, true);
          },
        });
        return { bytesSent: progress.bytesSent, dataBytes, bytesResumed };
      }),
    );
  };
}
