import { describe, expect, it } from 'vitest';
import { ErrorCode, KvmCloneError } from '../../../src/errors';
import {
  bandwidthMiB,
  destinationUri,
  liveMigrationOutcome,
  migrationUri,
  parseJobStats,
  type LiveRoute,
} from '../../../src/domain/live-migration';

const route: LiveRoute = {
  address: '10.0.0.2',
  port: 2222,
  user: 'root',
  identityFile: '/root/.ssh/id_ed25519',
  hostKeyPolicy: 'strict',
};

function codeOf(run: () => unknown): number | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof KvmCloneError ? error.code : undefined;
  }
  return undefined;
}

describe('destinationUri', () => {
  it("names the destination's driver instance over ssh, with the route's key and no prompts", () => {
    expect(destinationUri('qemu:///system', route)).toBe(
      'qemu+ssh://root@10.0.0.2:2222/system?keyfile=%2Froot%2F.ssh%2Fid_ed25519&no_tty=1',
    );
    expect(destinationUri('qemu:///session', { ...route, identityFile: undefined, address: 'fd00::2' })).toBe(
      'qemu+ssh://root@[fd00::2]:2222/session?no_tty=1',
    );
  });

  it('refuses (1001) a destination whose libvirt is not a local qemu driver', () => {
    expect(codeOf(() => destinationUri('qemu+ssh://other/system', route))).toBe(ErrorCode.CONFIGURATION_ERROR);
  });

  it("refuses (1001) route settings libvirt's ssh transport cannot take, naming them", () => {
    const unusable = {
      ...route,
      knownHostsFile: '/etc/kvm/known_hosts',
      proxyJump: 'jump',
      hostKeyPolicy: 'accept-new' as const,
    };
    expect(codeOf(() => destinationUri('qemu:///system', unusable))).toBe(ErrorCode.CONFIGURATION_ERROR);
    expect(() => destinationUri('qemu:///system', unusable)).toThrow(
      /knownHostsFile, proxyJump, hostKeyPolicy accept-new .*~\/\.ssh\/config/,
    );
  });
});

describe('migrationUri', () => {
  it("sends the stream to the route's address", () => {
    expect(migrationUri({ address: '10.0.0.2' })).toBe('tcp://10.0.0.2');
    expect(migrationUri({ address: 'fd00::2' })).toBe('tcp://[fd00::2]');
  });
});

describe('parseJobStats', () => {
  it('reads virsh domjobinfo --rawstats, dropping what is not a counter', () => {
    const job = parseJobStats(
      'Job type: 3\n\noperation: 5\ntime_elapsed: 1167\ndowntime: 114\ndata_processed: 374630251\n' +
        'disk_processed: 301989888\nmemory_processed: 72640363\nnoise: -4\nbig: 99999999999999999999\n',
    );
    expect(job.type).toBe(3);
    expect(job.stats).toEqual({
      operation: 5,
      time_elapsed: 1167,
      downtime: 114,
      data_processed: 374630251,
      disk_processed: 301989888,
      memory_processed: 72640363,
    });
    expect(liveMigrationOutcome(job)).toEqual({
      downtimeSeconds: 0.114,
      bytesTransferred: 374630251,
      diskBytes: 301989888,
      memoryBytes: 72640363,
      seconds: 1.167,
    });
  });

  it('reads no job as type 0 with nothing measured', () => {
    const job = parseJobStats('Job type: 0\n\n');
    expect(job).toEqual({ type: 0, stats: {} });
    expect(liveMigrationOutcome(job)).toMatchObject({ downtimeSeconds: 0, bytesTransferred: 0 });
  });
});

describe('bandwidthMiB', () => {
  it('rounds a limit down to whole MiB/s, never to none', () => {
    expect(bandwidthMiB(100 * 1024 * 1024)).toBe(100);
    expect(bandwidthMiB(1.5 * 1024 * 1024)).toBe(1);
    expect(bandwidthMiB(500 * 1024)).toBe(1);
  });
});
