import { setTimeout as sleep } from 'node:timers/promises';
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
import { isJobDir, LiveMigration } from '../hosts/live-migration';
import type { SshSession } from '../hosts/ssh-session';
import { activityBody, throttledHeartbeat, withHost, type ActivityDeps } from './deps';

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

/** Heartbeat details: where virsh keeps its outcome, and how far libvirt's job got. */
export interface LiveMigrateProgress {
  jobDir: string;
  dataProcessed: number;
  dataTotal: number;
}

const pollIntervalMs = 2000;

export function liveMigrate(deps: ActivityDeps) {
  /**
   * Moves the running source to the destination with libvirt's live migration, over the
   * direct route hosts.<source>.direct.<destination>, into disk images prepared there.
   * virsh runs detached on the source; the heartbeat carries its job directory, so a retry
   * after a dead worker follows the same migration to its end. A retry that finds the copy
   * running on the destination reports the completed job; one that finds the guest back on
   * the source (a failed job) migrates again. A cancelled activity aborts the job, and
   * libvirt resumes the guest on the source.
   */
  return async function liveMigrate(input: LiveMigrateInput): Promise<LiveMigrationOutcome> {
    return activityBody(async () => {
      const destination = deps.hosts.resolve(input.destination);
      const route = resolveRoute(destination, deps.hosts.directRoute(input.source, input.destination));
      const target = destinationUri(destination.libvirtUri, route);
      return withHost(deps, input.source, async (session) => {
        const migration = new LiveMigration(session, input.vmName);
        const context = Context.current();
        const onCancel = () => void migration.abort();
        context.cancellationSignal.addEventListener('abort', onCancel);
        try {
          const earlier = (context.info.heartbeatDetails as LiveMigrateProgress | undefined)?.jobDir;
          let jobDir = earlier && isJobDir(earlier) && (await migration.hasJobDir(earlier)) ? earlier : undefined;
          // A job whose directory this attempt does not know (its start was never heartbeated) runs to its end first.
          if (!jobDir) await untilNoJob(migration);
          if (!jobDir && !(await runsOnDestination(deps, input))) {
            await requireRunningSource(session, input);
            const xml = rewriteDomainForClone(await migration.migratableXml(), input.rewrite);
            jobDir = await migration.start({
              xml,
              newName: input.newName,
              destinationUri: target,
              migrationUri: migrationUri(route),
              ...(input.bandwidthLimit ? { bandwidthMiB: bandwidthMiB(input.bandwidthLimit) } : {}),
            });
          }
          if (jobDir) {
            const ended = await followJob(migration, jobDir);
            await migration.removeJobDir(jobDir);
            if (ended.exitCode !== 0) throw migration.failure(ended);
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

/** Waits while the domain has a job running, heartbeating. */
async function untilNoJob(migration: LiveMigration): Promise<void> {
  while ((await migration.job()).type === JOB_RUNNING) {
    Context.current().heartbeat();
    await sleep(pollIntervalMs);
  }
}

/** Waits for the detached virsh to end, heartbeating its job directory and libvirt's counters. */
async function followJob(migration: LiveMigration, jobDir: string): Promise<{ exitCode: number; output: string }> {
  const heartbeat = throttledHeartbeat(pollIntervalMs);
  for (;;) {
    const ended = await migration.ended(jobDir);
    if (ended) return ended;
    const job = await migration.job();
    const counters =
      job.type === JOB_RUNNING
        ? { dataProcessed: job.stats.data_processed ?? 0, dataTotal: job.stats.data_total ?? 0 }
        : {};
    heartbeat({ jobDir, dataProcessed: 0, dataTotal: 0, ...counters } satisfies LiveMigrateProgress, true);
    await sleep(pollIntervalMs);
  }
}

/** Whether the domain with the source's UUID runs on the destination under its new name. */
async function runsOnDestination(deps: ActivityDeps, input: LiveMigrateInput): Promise<boolean> {
  return withHost(deps, input.destination, async (session) => {
    const libvirt = new Libvirt(session);
    if ((await libvirt.domainUuid(input.newName)) !== input.uuid.toLowerCase()) return false;
    return (await libvirt.requireDomainState(input.newName)) === 'running';
  });
}

/** The source still is the domain migrated, and runs: a live migration moves a running guest, not a paused one. */
async function requireRunningSource(session: SshSession, input: LiveMigrateInput): Promise<void> {
  const libvirt = new Libvirt(session);
  const uuid = await libvirt.domainUuid(input.vmName);
  const state = uuid === input.uuid.toLowerCase() ? await libvirt.requireDomainState(input.vmName) : undefined;
  // A paused guest would arrive paused: the destination would hold it, not run it.
  if (state === 'running') return;
  throw new KvmCloneError(
    ErrorCode.MIGRATION_ERROR,
    `'${input.vmName}' is ${state ?? 'no longer the domain migrated'}; live mode moves a running VM`,
    { vmName: input.vmName },
    { retryable: false },
  );
}
