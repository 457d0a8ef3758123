import { ErrorCode, KvmCloneError } from '../errors';
import type { Extent } from './transfer-plan';

/**
 * A block device has no SEEK_DATA: every byte reads as data, so a copy would send an empty
 * 100 GiB LV whole. The source host reads the device instead and reports where it is not
 * all zero, as lines `<start> <length>` in ascending order, then `end <offset>` where the
 * scan stopped. This module reads that report. It comes from the source host, so it is
 * checked as any untrusted tool output: numbers only, inside the range asked for, in
 * order, and the scan must have reached the range's end (a device that shrank stops short).
 */

/** The grain a scan reports data at: the sync's block size, so a scanned extent is whole sync blocks. */
export const ZERO_SCAN_GRAIN = 64 * 1024;

/** How much a scan reads at once: big direct reads keep a device at its sequential speed. */
export const ZERO_SCAN_CHUNK = 4 * 1024 * 1024;

const DATA_LINE = /^(\d{1,16}) (\d{1,16})$/;
const END_LINE = /^end (\d{1,16})$/;

function badScan(path: string, reason: string): KvmCloneError {
  return new KvmCloneError(ErrorCode.TRANSFER_ERROR, `the zero scan of ${path} on the source ${reason}`, { path });
}

function wholeNumber(text: string, path: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw badScan(path, `reported ${text}, which is not a byte offset`);
  return value;
}

/**
 * The data extents a zero scan of `range` of `path` reported: sorted, disjoint, non-empty
 * and inside the range. Anything else in the output is a 1006 naming the device.
 */
export function parseZeroScan(output: string, path: string, range: Extent): Extent[] {
  const rangeEnd = range.start + range.length;
  const lines = output.split('\n').filter((line) => line.length > 0);
  const last = lines.pop();
  const end = last === undefined ? undefined : END_LINE.exec(last);
  if (!end) throw badScan(path, 'did not finish (no end line)');
  const reachedEnd = wholeNumber(end[1]!, path);
  if (reachedEnd !== rangeEnd) {
    throw badScan(
      path,
      `stopped at byte ${reachedEnd}, not at the end of the range ${range.start}-${rangeEnd} (did the device shrink?)`,
    );
  }
  const extents: Extent[] = [];
  let position = range.start;
  for (const line of lines) {
    const match = DATA_LINE.exec(line);
    if (!match) throw badScan(path, `printed a line that is not an extent: ${JSON.stringify(line.slice(0, 80))}`);
    const start = wholeNumber(match[1]!, path);
    const length = wholeNumber(match[2]!, path);
    if (length === 0 || start < position || start + length > rangeEnd) {
      throw badScan(
        path,
        `reported an extent (${start}+${length}) that is empty, out of order or outside ${range.start}-${rangeEnd}`,
      );
    }
    const previous = extents[extents.length - 1];
    if (previous && previous.start + previous.length === start) previous.length += length;
    else extents.push({ start, length });
    position = start + length;
  }
  return extents;
}
