import { Context } from '@temporalio/activity';
import { rewriteDomainForClone, type CloneRewrite } from '../domain/domain-xml';
import {
  bandwidthMiB,
  destinationUri,
  JOB_COMPLETED,
  JOB_RUNNING,
  liveMigrationOutcome,
  migrationUri,
  type LiveMigrationOutcome,
} from '../domain/live-migration';
import type { HostRef } from '../domain/schemas/host';
import { ErrorCode, KvmCloneError } from '../errors';
import { resolveRoute } from '../hosts/direct-push';
import { Libvirt } from '../hosts/libvirt';
import { LiveMigration } from '../hosts/live-migration';
import type { SshSession } from '../hosts/ssh-session';
import { activityBody, withHost, type ActivityDeps } from './deps';
import { whileTicking } from './heartbeat-ticker';

export interface LiveMigrateInput {
  source: HostRef;
  destination: HostRef;
  vmName: string;
  newName: string;
  /** The source's UUID: the domain that runs on the destination afterwards carries it. */
  uuid: string;
  /** The destination's paths and log directory; the UUID, name of the domain and MACs stay. */
  rewrite: CloneRewrite;
  /** The operation's cap, bytes per second. */
  bandwidthLimit?: number;
}

/** Heartbeat details: how far libvirt's job got. */
export interface LiveMigrateProgress {
  dataProcessed: number;
  dataTotal: number;
}

const pollIntervalMs = 2000;

export function liveMigrate(deps: ActivityDeps) {
  /**
   * Moves the running source to the destination with libvirt's live migration, over the
   * direct route hosts.<source>.direct.<destination>, into disk images prepared there. A
   * retry finds the job still running (and waits for it), or the copy already running on
   * the destination (and reports the completed job). A cancelled activity aborts the job;
   * libvirt then resumes the guest on the source.
   */
  return async function liveMigrate(input: LiveMigrateInput): Promise<LiveMigrationOutcome> {
    return activityBody(async () => {
      const route = resolveRoute(
        deps.hosts.resolve(input.destination),
        deps.hosts.directRoute(input.source, input.destination),
      );
      const target = destinationUri(deps.hosts.resolve(input.destination).libvirtUri, route);
      return withHost(deps, input.source, async (session) => {
        const migration = new LiveMigration(session, input.vmName);
        const context = Context.current();
        const onCancel = () => void migration.abort();
        context.cancellationSignal.addEventListener('abort', onCancel);
        try {
          if ((await migration.job()).type !== JOB_RUNNING && !(await runsOnDestination(deps, input))) {
            await requireRunningSource(session, input);
            const xml = rewriteDomainForClone(await migration.migratableXml(), input.rewrite);
            const request = {
              xml,
              newName: input.newName,
              destinationUri: target,
              migrationUri: migrationUri(route),
              ...(input.bandwidthLimit ? { bandwidthMiB: bandwidthMiB(input.bandwidthLimit) } : {}),
            };
            await whileMigrating(migration, () => migration.migrate(request));
          } else {
            await whileMigrating(migration, () => untilJobEnds(migration));
          }
          if (!(await runsOnDestination(deps, input)))
            throw new KvmCloneError(
              ErrorCode.MIGRATION_ERROR,
              `libvirt reported the live migration of '${input.vmName}' done, but '${input.newName}' does not run on the destination`,
              { vmName: input.vmName },
              { retryable: false },
            );
          const completed = await migration.completedJob();
          return liveMigrationOutcome(completed.type === JOB_COMPLETED ? completed : { type: 0, stats: {} });
        } finally {
          context.cancellationSignal.removeEventListener('abort', onCancel);
        }
      });
    });
  };
}

/** Runs `work` while heartbeating the job's counters. */
async function whileMigrating<T>(migration: LiveMigration, work: () => Promise<T>): Promise<T> {
  let progress: LiveMigrateProgress = { dataProcessed: 0, dataTotal: 0 };
  const poll = setInterval(() => {
    void migration.job().then(
      (job) => {
        if (job.type === JOB_RUNNING)
          progress = { dataProcessed: job.stats.data_processed ?? 0, dataTotal: job.stats.data_total ?? 0 };
      },
      () => undefined,
    );
  }, pollIntervalMs);
  try {
    return await whileTicking(
      (details) => Context.current().heartbeat(details),
      () => progress,
      work,
      pollIntervalMs,
    );
  } finally {
    clearInterval(poll);
  }
}

async function untilJobEnds(migration: LiveMigration): Promise<void> {
  while ((await migration.job()).type === JOB_RUNNING)
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
}

/** Whether the domain with the source's UUID runs on the destination under its new name. */
async function runsOnDestination(deps: ActivityDeps, input: LiveMigrateInput): Promise<boolean> {
  return withHost(deps, input.destination, async (session) => {
    const libvirt = new Libvirt(session);
    if ((await libvirt.domainUuid(input.newName)) !== input.uuid.toLowerCase()) return false;
    return (await libvirt.requireDomainState(input.newName)) === 'running';
  });
}

/** The source still is the domain migrated, and runs: a live migration moves a running guest. */
async function requireRunningSource(session: SshSession, input: LiveMigrateInput): Promise<void> {
  const libvirt = new Libvirt(session);
  const uuid = await libvirt.domainUuid(input.vmName);
  const state = uuid === input.uuid.toLowerCase() ? await libvirt.requireDomainState(input.vmName) : undefined;
  if (state === 'running' || state === 'paused') return;
  throw new KvmCloneError(
    ErrorCode.MIGRATION_ERROR,
    `'${input.vmName}' is ${state ?? 'no longer the domain migrated'}; live mode moves a running VM`,
    { vmName: input.vmName },
    { retryable: false },
  );
}
