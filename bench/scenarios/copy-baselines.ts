/** The OpenSSH and rsync commands a user would run instead of kvm-clone, on the same lab hosts. */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { settle, type Bench, type BenchVm, type Sample } from '../lib/context';
import { q } from '../lib/shell';

/** The bytes rsync says it sent (`--stats`' "Total bytes sent"), or undefined when it says nothing. */
export function rsyncBytesSent(stdout: string): number | undefined {
  const sent = /Total bytes sent: ([\d,]+)/.exec(stdout)?.[1];
  return sent === undefined ? undefined : Number(sent.replace(/,/g, ''));
}

export type BaselineTool = 'scp -3' | 'ssh dd relay' | 'ssh host-to-host dd' | 'rsync --sparse host-to-host';

/** Copies the VM's files (root qcow2 and data disk) from a to b with `tool`, into a fresh directory. */
export async function copyWithBaseline(bench: Bench, tool: BaselineTool, vm: BenchVm, run: number): Promise<Sample> {
  const a = bench.lab.host('a');
  const b = bench.lab.host('b');
  const dir = await bench.scratchDir('b', `${vm.name}-${tool.replace(/[^a-z0-9]+/gi, '-')}-${run}`);
  const files = [vm.rootPath, vm.dataPath];
  const target = (file: string) => path.join(dir, path.basename(file));
  let script: string;
  let wire: ((stdout: string) => number | undefined) | undefined = () => vm.apparentBytes;
  switch (tool) {
    case 'scp -3': {
      const ssh = `-i ${q(bench.lab.file.identityFile)} -o BatchMode=yes -o UserKnownHostsFile=${q(bench.lab.file.knownHostsFile)} -o StrictHostKeyChecking=yes`;
      script = `scp -3 -q ${ssh} -c aes128-gcm@openssh.com -P ${a.port} ${files.map((file) => q(`${a.user}@${a.address}:${file}`)).join(' ')} ${q(`${b.user}@${b.address}:${dir}/`)}`;
      break;
    }
    case 'ssh dd relay':
      script = files
        .map(
          (file) =>
            `${bench.sshCommand('a')} ${q(`dd if=${q(file)} bs=4M status=none`)} | ${bench.sshCommand('b')} ${q(`dd of=${q(target(file))} bs=4M status=none`)}`,
        )
        .join('\n');
      break;
    case 'ssh host-to-host dd':
      script = `${bench.sshCommand('a')} ${q(files.map((file) => `dd if=${q(file)} bs=4M status=none | ${bench.hostToHostSsh()} ${q(`dd of=${q(target(file))} bs=4M status=none`)}`).join(' && '))}`;
      break;
    case 'rsync --sparse host-to-host': {
      const rsh = `ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -c aes128-gcm@openssh.com -p ${b.port}`;
      script = `${bench.sshCommand('a')} ${q(`rsync --sparse --stats -e ${q(rsh)} ${files.map(q).join(' ')} ${q(`${b.user}@${b.address}:${dir}/`)}`)}`;
      wire = rsyncBytesSent;
      break;
    }
  }
  try {
    return await bench.baseline(script, vm.apparentBytes, wire);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await settle(dir);
  }
}
