import { sh } from '../domain/shell-quote';
import type { SshSession } from './ssh-session';
import { describeHost } from './ssh-session';

/** Optional helpers a KVM host may have; coreutils, qemu-img and virsh are required. */
export interface RemoteTools {
  python3: boolean;
  perl: boolean;
  qemuImg: boolean;
  zstd: boolean;
  lz4: boolean;
}

const probed = new Map<string, Promise<RemoteTools>>();

/** Probes a host's tooling once per worker process; later calls reuse the answer. */
export function remoteTools(session: SshSession): Promise<RemoteTools> {
  const key = describeHost(session.host);
  let tools = probed.get(key);
  if (!tools) {
    tools = probeTools(session);
    probed.set(key, tools);
    tools.catch(() => probed.delete(key));
  }
  return tools;
}

async function probeTools(session: SshSession): Promise<RemoteTools> {
  const names = ['python3', 'perl', 'qemu-img', 'zstd', 'lz4'];
  const output = await session.run(
    sh`for tool in ${names}; do command -v "$tool" >/dev/null 2>&1 && echo "$tool"; done; true`,
    {
      what: 'probing tools',
    },
  );
  const found = new Set(output.split('\n'));
  // Tests force the slower paths to prove they work.
  const disabled = new Set((process.env.KVM_CLONE_DISABLE_REMOTE_TOOLS ?? '').split(',').filter(Boolean));
  const has = (name: string) => found.has(name) && !disabled.has(name);
  return { python3: has('python3'), perl: has('perl'), qemuImg: has('qemu-img'), zstd: has('zstd'), lz4: has('lz4') };
}
