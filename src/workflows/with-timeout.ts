import { CancellationScope, sleep } from '@temporalio/workflow';

/** Why an operation's body ended early: its own timeout, as opposed to a cancel request. */
export interface TimeoutState {
  timedOut: boolean;
}

/**
 * Runs `body` in a cancellable scope that cancels itself after `seconds`, so a timeout
 * unwinds exactly like a cancellation and the caller can tell the two apart.
 */
export async function withTimeout<T>(seconds: number, state: TimeoutState, body: () => Promise<T>): Promise<T> {
  return CancellationScope.cancellable(async () => {
    const scope = CancellationScope.current();
    sleep(seconds * 1000).then(
      () => {
        state.timedOut = true;
        scope.cancel();
      },
      () => undefined, // the scope ended first
    );
    return body();
  });
}
