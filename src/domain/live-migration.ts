import { ErrorCode, KvmCloneError } from '../errors';
import type { ResolvedRoute } from './schemas/direct-route';

/** The direct route, as the source host's libvirt uses it to reach the destination's. */
export type LiveRoute = ResolvedRoute;

/**
 * The destination's libvirt as the source's libvirt connects to it: `qemu+ssh://` with the
 * route's user, address, port and key, to the same driver instance (`/system` or
 * `/session`) the destination host is configured with. libvirt's ssh transport runs the
 * source user's OpenSSH, which takes no other options: a route's known_hosts file, jump
 * host or `accept-new` policy belong in that user's ~/.ssh/config instead, and a route
 * that sets them is refused (1001) rather than silently ignored.
 */
export function destinationUri(destinationLibvirtUri: string, route: LiveRoute): string {
  const instance = /^qemu:\/\/\/(system|session)$/.exec(destinationLibvirtUri)?.[1];
  if (!instance)
    throw new KvmCloneError(
      ErrorCode.CONFIGURATION_ERROR,
      `live mode needs the destination's libvirt at qemu:///system or qemu:///session, not ${destinationLibvirtUri}`,
      { libvirtUri: destinationLibvirtUri },
    );
  const unsupported = [
    route.knownHostsFile ? 'knownHostsFile' : undefined,
    route.proxyJump ? 'proxyJump' : undefined,
    route.hostKeyPolicy === 'accept-new' ? 'hostKeyPolicy accept-new' : undefined,
  ].filter((field) => field !== undefined);
  if (unsupported.length > 0)
    throw new KvmCloneError(
      ErrorCode.CONFIGURATION_ERROR,
      `live mode cannot pass the direct route's ${unsupported.join(', ')} to libvirt's ssh transport; put it in the source user's ~/.ssh/config for ${route.address} port ${route.port} and leave it out of the route`,
      { fields: unsupported },
    );
  const host = route.address.includes(':') ? `[${route.address}]` : route.address;
  const query = [
    ...(route.identityFile ? [`keyfile=${encodeURIComponent(route.identityFile)}`] : []),
    // BatchMode: a prompt for a password or an unknown host key would wait forever.
    'no_tty=1',
  ];
  return `qemu+ssh://${encodeURIComponent(route.user)}@${host}:${route.port}/${instance}?${query.join('&')}`;
}

/** Where the source's qemu sends the migration stream and, with it, the disks' NBD mirror. */
export function migrationUri(route: Pick<LiveRoute, 'address'>): string {
  return `tcp://${route.address.includes(':') ? `[${route.address}]` : route.address}`;
}

/** `virsh domjobinfo --rawstats`: the job's type (0 none, 2 running, 3 completed, 4 failed, 5 cancelled) and its counters. */
export interface JobStats {
  type: number;
  stats: Record<string, number>;
}

/** Parses `virsh domjobinfo --rawstats`, whose numbers come from the source host: anything else is dropped. */
export function parseJobStats(output: string): JobStats {
  let type = 0;
  const stats: Record<string, number> = {};
  for (const line of output.split('\n')) {
    const match = /^\s*([a-z_]+|Job type):\s*(\d{1,20})\s*$/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    if (!Number.isSafeInteger(value)) continue;
    if (match[1] === 'Job type') type = value;
    else stats[match[1]!] = value;
  }
  return { type, stats };
}

export const JOB_RUNNING = 2;
export const JOB_COMPLETED = 3;

/** What a completed live migration cost, as the source's libvirt measured it. */
export interface LiveMigrationOutcome {
  /** The guest's pause at the switch-over, from the completed job's `downtime` (ms). */
  downtimeSeconds: number;
  /** Memory and disk bytes the source sent. */
  bytesTransferred: number;
  diskBytes: number;
  memoryBytes: number;
  seconds: number;
}

export function liveMigrationOutcome(job: JobStats): LiveMigrationOutcome {
  const { stats } = job;
  const memoryBytes = stats.memory_processed ?? 0;
  const diskBytes = stats.disk_processed ?? 0;
  return {
    downtimeSeconds: (stats.downtime ?? 0) / 1000,
    bytesTransferred: stats.data_processed ?? memoryBytes + diskBytes,
    diskBytes,
    memoryBytes,
    seconds: (stats.time_elapsed ?? 0) / 1000,
  };
}

/** libvirt caps a migration in whole MiB/s: a limit is rounded down, but never to none. */
export function bandwidthMiB(bytesPerSecond: number): number {
  return Math.max(1, Math.floor(bytesPerSecond / (1024 * 1024)));
}
