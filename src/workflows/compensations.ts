import { CancellationScope, log } from '@temporalio/workflow';
import { failureInfo } from '../failures';
import type { ErrorCodeValue } from '../errors';

interface Compensation {
  what: string;
  undo: () => Promise<void>;
  /** What stays behind on a host when this undo fails, in words an operator acts on. */
  leftIfFailed?: string;
}

/** An undo step that failed: which, why, and what it left. */
export interface CleanupFailure {
  step: string;
  code: ErrorCodeValue;
  message: string;
  left?: string;
}

/**
 * The saga's undo list: each step that changes a host registers how to take the change
 * back, and a failure, cancellation or timeout unwinds them newest first. Unwinding runs
 * in a non-cancellable scope so that cancelling the workflow cannot stop its cleanup.
 *
 * A step that fails does not stop the others; unwind() returns the failed ones, so the
 * operation's failure can say exactly what was left (see cleanup-report.ts).
 *
 * Terminating a workflow (Web UI "Terminate", `temporal workflow terminate`, or a
 * schedule's terminate-other overlap policy) runs no workflow code at all, so none of
 * this: a running source may stay on its overlays, partial files stay on the destination,
 * and the destination lock stays until an operation finds its holder closed and takes it
 * over. Cancel instead; terminate only a workflow whose cleanup itself hangs.
 */
export class Compensations {
  private readonly steps: Compensation[] = [];

  /** Registers an undo step; the returned function drops it once the step is settled for good. */
  add(what: string, undo: () => Promise<void>, leftIfFailed?: string): () => void {
    const step: Compensation = { what, undo, ...(leftIfFailed ? { leftIfFailed } : {}) };
    this.steps.push(step);
    return () => {
      const index = this.steps.indexOf(step);
      if (index >= 0) this.steps.splice(index, 1);
    };
  }

  /** Drops every step: the operation is past its point of no return, and undoing would do harm. */
  clear(): void {
    this.steps.length = 0;
  }

  async unwind(): Promise<CleanupFailure[]> {
    const failures: CleanupFailure[] = [];
    await CancellationScope.nonCancellable(async () => {
      for (const { what, undo, leftIfFailed } of [...this.steps].reverse()) {
        try {
          await undo();
        } catch (error) {
          const info = failureInfo(error);
          log.error('cleanup step failed', { step: what, error: info.message });
          failures.push({
            step: what,
            code: info.code,
            message: info.message,
            ...(leftIfFailed ? { left: leftIfFailed } : {}),
          });
        }
      }
    });
    this.steps.length = 0;
    return failures;
  }
}
