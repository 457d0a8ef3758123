/**
 * One measurement in a fresh process, where a process-wide switch must differ between
 * variants: ssh2 with or without its native binding (preload no-binding.cjs), or the
 * remote digest tool (KVM_CLONE_DISABLE_REMOTE_TOOLS; the tool probe is cached per process).
 * One JSON argument; prints one JSON line.
 */
import { hostSpecSchema, type HostSpecInput } from '../../src/domain/schemas/host';
import { relayExtents } from '../../src/hosts/extent-relay';
import { remoteSha256 } from '../../src/hosts/remote-digest';
import { RemoteDisk } from '../../src/hosts/remote-disk';
import { remoteTools } from '../../src/hosts/remote-tools';
import { sshCryptoBindingLoaded } from '../../src/hosts/crypto-binding';
import { openSshSession } from '../../src/hosts/ssh-session';

type ProbeInput =
  | {
      kind: 'relay';
      source: HostSpecInput;
      destination: HostSpecInput;
      sourcePath: string;
      destinationPath: string;
      size: number;
    }
  | { kind: 'digest'; host: HostSpecInput; path: string };

export interface ProbeOutput {
  seconds: number;
  /** CPU seconds of this process during the timed part. */
  cpuSeconds: number;
  bindingLoaded: boolean;
  wireBytes?: number;
  digest?: { hex: string; tool: string };
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '{}') as ProbeInput;
  let output: ProbeOutput;
  if (input.kind === 'relay') {
    const source = await openSshSession(hostSpecSchema.parse(input.source));
    const destination = await openSshSession(hostSpecSchema.parse(input.destination));
    await new RemoteDisk(destination).createSparseFile(input.destinationPath, input.size);
    const cpu = process.cpuUsage();
    const started = performance.now();
    const relayed = await relayExtents({
      source,
      destination,
      sourcePath: input.sourcePath,
      destinationPath: input.destinationPath,
      extents: [{ start: 0, length: input.size }],
    });
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    output = {
      seconds,
      cpuSeconds: (used.user + used.system) / 1e6,
      bindingLoaded: sshCryptoBindingLoaded(),
      wireBytes: relayed.wireBytes,
    };
    source.close();
    destination.close();
  } else {
    const session = await openSshSession(hostSpecSchema.parse(input.host));
    await remoteTools(session);
    const cpu = process.cpuUsage();
    const started = performance.now();
    const digest = await remoteSha256(session, input.path);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    output = {
      seconds,
      cpuSeconds: (used.user + used.system) / 1e6,
      bindingLoaded: sshCryptoBindingLoaded(),
      digest: { hex: digest.hex, tool: digest.tool },
    };
    session.close();
  }
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
