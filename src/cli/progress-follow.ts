import type { KvmCloneClient } from '../client';
import { formatDocument } from './output';
import { progressDocument, progressLines, type ProgressSnapshot } from './progress-view';
import { RateMeter } from './rate-meter';
import type { OutputFormat } from './global-options';
import { ProgressHighWater } from '../client/progress-high-water';

/** Where progress goes while an operation runs. */
export interface ProgressSink {
  update(snapshot: ProgressSnapshot): void;
  /** Called once, before the result is printed; nothing is shown after it. */
  finish(): void;
}

export type ProgressStyle = 'bars' | 'json' | 'none';

/**
 * Bars for people at a terminal; JSON lines on stdout for scripts (json output, or text
 * output into a pipe); nothing with -q, or with yaml output away from a terminal.
 */
export function progressStyle(options: { format: OutputFormat; quiet: boolean; stderrIsTty: boolean }): ProgressStyle {
  if (options.quiet) return 'none';
  if (options.format === 'json') return 'json';
  return options.stderrIsTty ? 'bars' : 'none';
}

/** Redraws its lines in place on a terminal, moving the cursor back up over the last frame. */
export class TerminalBars implements ProgressSink {
  private drawn = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  update(snapshot: ProgressSnapshot): void {
    const columns = this.stream.columns || 120;
    const lines = progressLines(snapshot).map((line) => line.slice(0, columns - 1));
    const up = this.drawn > 0 ? `\u001b[${this.drawn}A` : '';
    this.stream.write(`${up}${lines.map((line) => `\r${line}\u001b[K`).join('\n')}\n`);
    this.drawn = lines.length;
  }

  finish(): void {
    this.drawn = 0;
  }
}

export class JsonLines implements ProgressSink {
  constructor(private readonly operationId: string) {}

  update(snapshot: ProgressSnapshot): void {
    process.stdout.write(formatDocument('json', progressDocument(this.operationId, snapshot)));
  }

  finish(): void {}
}

export function progressSink(style: ProgressStyle, operationId: string): ProgressSink {
  if (style === 'bars') return new TerminalBars();
  if (style === 'json') return new JsonLines(operationId);
  return { update() {}, finish() {} };
}

/**
 * Shows an operation's progress until it ends, then returns its result (or throws its
 * error). Works from any process: progress comes from Temporal, not from the worker.
 */
export async function followOperation<T>(
  client: KvmCloneClient,
  operationId: string,
  sink: ProgressSink,
  intervalMs = 1000,
): Promise<T> {
  const meter = new RateMeter();
  const highWater = new ProgressHighWater();
  let finished = false;
  let inFlight: Promise<void> | undefined;
  const poll = (): void => {
    inFlight ??= (async () => {
      try {
        const progress = highWater.apply(await client.progress(operationId));
        // A poll answered after the result must not print after it.
        if (!finished) sink.update({ progress, ...meter.sample(progress.bytesDone, progress.bytesTotal, Date.now()) });
      } catch {
        // The next poll will tell; the result decides the outcome.
      } finally {
        inFlight = undefined;
      }
    })();
  };
  poll();
  const timer = setInterval(poll, intervalMs);
  try {
    return await client.result<T>(operationId);
  } finally {
    finished = true;
    clearInterval(timer);
    // The caller closes the connection next, and may stop its worker: a query still in flight, or waiting to be
    // retried, must settle first. A retry that fires after the close throws from a timer and kills the process.
    await inFlight;
    sink.finish();
  }
}

/**
 * Commands that stream progress print JSON lines, not text, into a pipe: a script reading
 * them should not have to parse bars.
 */
export function streamingFormat(format: OutputFormat, stdoutIsTty: boolean): OutputFormat {
  return format === 'text' && !stdoutIsTty ? 'json' : format;
}
