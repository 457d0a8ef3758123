import {
  CancellationScope,
  isCancellation,
  proxyActivities,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CloneResult } from '../domain/clone-result';
import type { MigrateResult } from '../domain/migration';
import { notificationDocument, type NotificationDocument, type NotifiedOperation } from '../domain/notification';
import type { HostSpec, HostSpecInput } from '../domain/schemas/host';
import { isNamedWebhook, notifySchema, type Notify } from '../domain/schemas/notify';
import { webhookLabel } from '../domain/webhook-target';
import type { SyncResult } from '../domain/sync-result';
import { ErrorCode, errorCodeName } from '../errors';
import { failureInfo } from '../failures';
import { hostLabel } from './host-label';

/**
 * Notifications have their own retry policy: a receiver that is down for a moment gets the
 * message a few seconds later, but one that stays down costs the operation seconds, not minutes.
 */
export const notifyOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 4 },
};

const notifier = proxyActivities<Activities>(notifyOptions);

/**
 * Sends the document to each webhook that wants its event, all at once, in a
 * non-cancellable scope so a cancelled operation still reports its cancellation. A
 * webhook that keeps failing becomes a warning; it never changes how the operation ends.
 */
export async function sendNotifications(notify: Notify | undefined, document: NotificationDocument): Promise<string[]> {
  // A named webhook's events are in the worker's config: the activity decides for it.
  const webhooks = (notify?.webhooks ?? []).filter(
    (webhook) => isNamedWebhook(webhook) || webhook.events.includes(document.event),
  );
  if (webhooks.length === 0) return [];
  return CancellationScope.nonCancellable(async () => {
    const outcomes = await Promise.all(
      webhooks.map((webhook) =>
        notifier.notify({ webhook, document }).then(
          () => undefined,
          // Named by its name or origin: a webhook URL (Slack's, Teams') is a secret itself.
          (error: unknown) => `notification to ${webhookLabel(webhook)} failed: ${failureInfo(error).message}`,
        ),
      ),
    );
    return outcomes.filter((warning): warning is string => warning !== undefined);
  });
}

/**
 * Runs an operation and tells its webhooks how it ended: on success the result (and a
 * failed notification becomes one of its warnings), on failure or cancellation the error,
 * after which the operation fails or is cancelled exactly as it would have without them.
 */
export async function withNotifications<R extends CloneResult | SyncResult | MigrateResult>(
  notify: Notify | undefined,
  operation: NotifiedOperation,
  run: () => Promise<R>,
): Promise<R> {
  let result: R;
  try {
    result = await run();
  } catch (error) {
    // The root scope says whether the workflow was asked to stop, whatever the failure's shape.
    const cancelled = isCancellation(error) || CancellationScope.current().consideredCancelled;
    const info = failureInfo(error);
    const reported = cancelled
      ? {
          code: ErrorCode.OPERATION_CANCELLED_ERROR,
          codeName: errorCodeName(ErrorCode.OPERATION_CANCELLED_ERROR),
          message: info.message,
        }
      : info;
    await sendNotifications(
      notify,
      notificationDocument(operation, { event: cancelled ? 'cancelled' : 'failure', error: reported }, new Date()),
    );
    throw error;
  }
  result.warnings.push(
    ...(await sendNotifications(notify, notificationDocument(operation, { event: 'success', result }, new Date()))),
  );
  return result;
}

type HostRefInput = string | HostSpecInput;

/** The operation as a notification names it, from the workflow's input (validated or not yet). */
export function notifiedOperation(
  kind: NotifiedOperation['kind'],
  input: { source: HostRefInput; destination: HostRefInput; vmName: string },
  targetName: string,
): NotifiedOperation {
  const label = (ref: HostRefInput): string =>
    typeof ref === 'string' ? ref : hostLabel({ ...ref, user: ref.user ?? 'root', port: ref.port ?? 22 } as HostSpec);
  return {
    kind,
    operationId: workflowInfo().workflowId,
    runId: workflowInfo().runId,
    vmName: input.vmName,
    targetName,
    sourceHost: label(input.source),
    destinationHost: label(input.destination),
  };
}

/** The input's webhooks, or none when the field is malformed (the operation then fails validation itself). */
export function notifyOf(input: { notify?: unknown }): Notify | undefined {
  const parsed = notifySchema.safeParse(input.notify);
  return parsed.success ? parsed.data : undefined;
}
