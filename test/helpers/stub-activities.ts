import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../src/activities';
import { KvmCloneError, type ErrorCodeValue } from '../../src/errors';
import { toApplicationFailure } from '../../src/failures';

export type ActivityName = keyof Activities;
export type ActivityInput<N extends ActivityName> = Parameters<Activities[N]>[0];
export type ActivityResult<N extends ActivityName> = Awaited<ReturnType<Activities[N]>>;

/**
 * What one activity does in a test: its result for an input, or a throw. `call` counts the
 * calls to this activity in the scenario from 0, so a script can answer a retry or a second
 * check differently from the first.
 */
export type ActivityScript<N extends ActivityName> = (
  input: ActivityInput<N>,
  call: number,
) => ActivityResult<N> | Promise<ActivityResult<N>>;

export type ActivityScripts = { [N in ActivityName]?: ActivityScript<N> };
/** A script for every activity of the worker: what a test does not script answers as these say. */
export type DefaultActivityScripts = { [N in ActivityName]: ActivityScript<N> };

/** One activity call, in the order the workflow made them. */
export type ActivityCall = { [N in ActivityName]: { name: N; input: ActivityInput<N> } }[ActivityName];

/**
 * The activity calls of one workflow run, answered by its scripts over the defaults, and
 * recorded in order with their inputs.
 */
export class StubScenario {
  readonly calls: ActivityCall[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly workflowId: string,
    private readonly scripts: DefaultActivityScripts,
  ) {}

  /** The names of the calls so far, in order. */
  names(): ActivityName[] {
    return this.calls.map((call) => call.name);
  }

  /** The inputs of every call to one activity, in order. */
  inputsOf<N extends ActivityName>(name: N): ActivityInput<N>[] {
    return this.calls.filter((call) => call.name === name).map((call) => call.input as ActivityInput<N>);
  }

  /** The input of the `index`th call to one activity; fails the test when there was none. */
  inputOf<N extends ActivityName>(name: N, index = 0): ActivityInput<N> {
    const inputs = this.inputsOf(name);
    if (index >= inputs.length)
      throw new Error(`${name} was called ${inputs.length} times: ${this.names().join(', ')}`);
    return inputs[index]!;
  }

  /** Resolves once the workflow has called `name` `count` times; fails after `timeoutMs`. */
  async waitForCall(name: ActivityName, count = 1, timeoutMs = 15_000): Promise<void> {
    const reached = () => this.inputsOf(name).length >= count;
    if (reached()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${name} was not called ${count} times within ${timeoutMs} ms: ${this.names().join(', ')}`));
      }, timeoutMs);
      const check = () => {
        if (!reached()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Records a call and answers it with its script. */
  async run<N extends ActivityName>(name: N, input: ActivityInput<N>): Promise<ActivityResult<N>> {
    const call = this.inputsOf(name).length;
    this.calls.push({ name, input } as ActivityCall);
    for (const waiter of [...this.waiters]) waiter();
    const script = this.scripts[name] as ActivityScript<N>;
    return script(input, call);
  }
}

/**
 * Stub activities for a worker: one object implementing every activity of `Activities`,
 * which hands each call to the scenario of the workflow that made it. A test creates a
 * scenario (its scripts over the defaults) and starts its workflow with the scenario's id,
 * so the tests of a file share one worker and never see each other's calls.
 */
export class ActivityStubs {
  private readonly scenarios = new Map<string, StubScenario>();
  readonly activities: Activities;

  constructor(private readonly defaults: DefaultActivityScripts) {
    const entries = (Object.keys(defaults) as ActivityName[]).map((name) => [
      name,
      (input: never) => this.scenarioOf(Context.current().info.workflowExecution?.workflowId).run(name, input),
    ]);
    this.activities = Object.fromEntries(entries) as unknown as Activities;
  }

  /** A new scenario: `scripts` replace the defaults of the activities they name. */
  scenario(scripts: ActivityScripts = {}, workflowId = `workflow-test-${randomUUID()}`): StubScenario {
    const scenario = new StubScenario(workflowId, { ...this.defaults, ...scripts } as DefaultActivityScripts);
    this.scenarios.set(workflowId, scenario);
    return scenario;
  }

  /** A child workflow's calls (its id is `<parent id>-<n>-<kind>`) go to its parent's scenario. */
  private scenarioOf(workflowId: string | undefined): StubScenario {
    const parentId = workflowId?.replace(/-\d+-[a-z]+$/, '');
    const scenario =
      workflowId === undefined ? undefined : (this.scenarios.get(workflowId) ?? this.scenarios.get(parentId!));
    if (!scenario) throw new Error(`no stub scenario for workflow ${workflowId}`);
    return scenario;
  }
}

/**
 * An activity failure as the real activities raise it (type = the code's name, the code in
 * the details), never retried: the activity options' retry policies would otherwise make
 * each scripted failure cost seconds to minutes of backoff.
 */
export function activityFailure(code: ErrorCodeValue, message: string): ApplicationFailure {
  return toApplicationFailure(new KvmCloneError(code, message, {}, { retryable: false }));
}

/**
 * An activity that runs until the workflow cancels it (a timeout or a cancel request), as a
 * long transfer would: it heartbeats, which is how a cancellation reaches an activity, and
 * ends with the CancelledFailure the SDK raises.
 */
export async function untilCancelled(): Promise<never> {
  const context = Context.current();
  for (;;) {
    context.heartbeat();
    await context.sleep(100);
  }
}
