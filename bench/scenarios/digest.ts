/**
 * Hashing speed of the remote digest tools the verifier can use, forced one at a time with
 * KVM_CLONE_DISABLE_REMOTE_TOOLS, each in a fresh process (the tool probe is cached per process).
 */
import type { Sample } from '../lib/context';
import { runProbe } from '../lib/probe';
import { judge, measureAll, type Scenario, type Variant } from '../lib/scenario';
import { formatSize } from '../lib/stats';

const tools = [
  { tool: 'python3', disable: '' },
  { tool: 'perl', disable: 'python3' },
  { tool: 'coreutils', disable: 'python3,perl' },
] as const;

export const digest: Scenario = {
  id: 'digest',
  title: 'Remote SHA-256 of a file on the host: python3 vs perl vs coreutils',
  quick: true,
  async run(bench) {
    const file = await bench.sampleFile('random', bench.sizes.hash);
    const digests = new Set<string>();
    const variants: Variant[] = tools.map(({ tool, disable }) => ({
      name: tool === 'coreutils' ? 'coreutils sha256sum' : `${tool} (remote-digest)`,
      kind: tool === 'coreutils' ? 'baseline' : 'kvm-clone',
      async measure(): Promise<Sample> {
        const stopHostCpu = await bench.hostCpuWindow();
        const output = await runProbe(
          { kind: 'digest', host: bench.lab.hostSpec('a'), path: file.path },
          { env: { KVM_CLONE_DISABLE_REMOTE_TOOLS: disable } },
        );
        if (output.digest?.tool !== tool)
          throw new Error(`asked for ${tool}, remote-digest used ${output.digest?.tool}`);
        digests.add(output.digest.hex);
        return {
          seconds: output.seconds,
          logicalBytes: file.size,
          clientCpu: output.cpuSeconds,
          hostCpu: await stopHostCpu(),
        };
      },
    }));
    const rows = await measureAll(bench, this.id, variants);
    if (digests.size !== 1) throw new Error(`the tools disagree on the digest: ${[...digests].join(', ')}`);
    const baseline = rows.get('coreutils sha256sum');
    for (const row of rows.values()) {
      if (row !== baseline) judge(row, baseline);
      row.note = `${formatSize(file.size)} random file, hashed on host a`;
    }
    return [...rows.values()];
  },
};
