import { Client, Connection } from '@temporalio/client';
import { KvmCloneClient } from '../client';
import { DEFAULT_TASK_QUEUE } from '../task-queue';
import type { KvmCloneConfig } from './config-schema';
import { stateDir } from './config';
import { embeddedServerSettings, ensureEmbeddedTemporal } from './embedded-temporal';
import type { CliContext } from './global-options';
import { temporalConnectionOptions, type TemporalConnectionOptions } from './temporal-connection';

/** A command's way to Temporal: the configured cluster, or the embedded dev server. */
export interface TemporalAccess {
  client: KvmCloneClient;
  connection: Connection;
  connectionOptions: TemporalConnectionOptions;
  namespace: string;
  taskQueue: string;
  /** Set when no address is configured and the local dev server is used. */
  embedded?: { uiUrl: string };
  close(): Promise<void>;
}

/** The configured cluster's address, or the embedded server's, started if it is not running. */
export async function resolveTemporalAddress(
  context: CliContext,
  config: KvmCloneConfig,
): Promise<{ address: string; embedded?: { uiUrl: string } }> {
  if (config.temporal.address) return { address: config.temporal.address };
  const embedded = await ensureEmbeddedTemporal(embeddedServerSettings(stateDir()));
  if (embedded.started)
    context.note(`started the embedded Temporal server at ${embedded.address}; it keeps running for later commands`);
  context.note(`Temporal Web UI: ${embedded.uiUrl}`);
  return { address: embedded.address, embedded: { uiUrl: embedded.uiUrl } };
}

export async function connectTemporal(context: CliContext, config: KvmCloneConfig): Promise<TemporalAccess> {
  const { address, embedded } = await resolveTemporalAddress(context, config);
  const connectionOptions = await temporalConnectionOptions(config.temporal, address);
  context.detail(`Temporal ${address}, namespace ${config.temporal.namespace}`);
  const connection = await Connection.connect(connectionOptions);
  const taskQueue = config.temporal.taskQueue ?? DEFAULT_TASK_QUEUE;
  const client = new KvmCloneClient(new Client({ connection, namespace: config.temporal.namespace }), taskQueue);
  return {
    client,
    connection,
    connectionOptions,
    namespace: config.temporal.namespace,
    taskQueue,
    ...(embedded ? { embedded } : {}),
    close: () => connection.close(),
  };
}
