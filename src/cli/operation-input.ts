import type { NotifyInput } from '../domain/schemas/notify';
import type { KvmCloneConfig } from './config-schema';
import { dataPathInputFromFlags, type DataPathFlags } from './data-path-flags';
import { directRouteFor } from './direct-route-choice';
import { notifyInputFor } from './notify-merge';

/** What an operation is about: the three arguments of `clone` and `sync`. */
export interface OperationSubject {
  source: string;
  destination: string;
  vmName: string;
}

/** An operation's own input fields as its flags give them: undefined where a flag was not given. */
export type GivenFields<I> = { [K in keyof I]?: I[K] | undefined };

/**
 * The workflow input: flags given on the command line (the operation's own, `given`, and
 * the data-path flags both operations share) win over the config's defaults for the
 * operation, which win over the workflow's own defaults (left to its schema).
 */
export function operationInputFromFlags<I extends object>(
  subject: OperationSubject,
  defaults: Partial<I>,
  given: GivenFields<I>,
  flags: DataPathFlags,
): I {
  const input = { ...defaults, ...subject } as I;
  for (const [key, value] of Object.entries({ ...given, ...dataPathInputFromFlags(flags) }))
    if (value !== undefined) Object.assign(input, { [key]: value });
  return input;
}

/** What the config adds to an operation's input: direct mode between the two hosts, and the webhooks to notify. */
export interface RouteAndNotify {
  direct?: true;
  notify?: NotifyInput;
}

/** Direct mode when the config has a route for the pair (unless --relay), and the webhooks, with those of --notify. */
export function routeAndNotify(
  config: KvmCloneConfig,
  subject: OperationSubject,
  flags: { relay?: boolean; notify?: string[] },
): RouteAndNotify {
  const direct = directRouteFor(config, subject.source, subject.destination, flags.relay);
  const notify = notifyInputFor(config, flags.notify);
  return { ...(direct ? { direct: true } : {}), ...(notify ? { notify } : {}) };
}
