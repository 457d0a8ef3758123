import { CancellationScope, log } from '@temporalio/workflow';

interface Compensation {
  what: string;
  undo: () => Promise<void>;
}

/**
 * The saga's undo list: each step that changes a host registers how to take the change
 * back, and a failure, cancellation or timeout unwinds them newest first. Unwinding runs
 * in a non-cancellable scope so that cancelling the workflow cannot stop its cleanup.
 */
export class Compensations {
  private readonly steps: Compensation[] = [];

  /** Registers an undo step; the returned function drops it once the step is settled for good. */
  add(what: string, undo: () => Promise<void>): () => void {
    const step = { what, undo };
    this.steps.push(step);
    return () => {
      const index = this.steps.indexOf(step);
      if (index >= 0) this.steps.splice(index, 1);
    };
  }

  async unwind(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      for (const { what, undo } of [...this.steps].reverse()) {
        try {
          await undo();
        } catch (error) {
          log.error('cleanup step failed', { step: what, error: String(error) });
        }
      }
    });
    this.steps.length = 0;
  }
}
