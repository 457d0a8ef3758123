import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { Command, InvalidArgumentError, Option } from 'commander';
import { KvmCloneClient } from '../client';
import type { CloneInput } from '../domain/schemas/clone-input';
import { KvmCloneError, ErrorCode } from '../errors';
import { DEFAULT_TASK_QUEUE } from '../task-queue';
import { createKvmCloneWorker } from '../worker';
import { configPermissionWarning, defaultConfigPath, loadConfig, stateDir } from './config';
import { ensureEmbeddedTemporal } from './embedded-temporal';
import { renderProgress } from './progress-view';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../../package.json') as { version: string };

type OutputFormat = 'text' | 'json';

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError('not an integer');
  return parsed;
}

function fail(error: unknown, output: OutputFormat): never {
  const known = error instanceof KvmCloneError ? error : new KvmCloneError(ErrorCode.GENERAL_ERROR, error instanceof Error ? error.message : String(error));
  if (output === 'json') process.stdout.write(`${JSON.stringify({ type: 'error', code: known.code, codeName: known.codeName, message: known.message })}\n`);
  process.stderr.write(`kvm-clone: error ${known.code} (${known.codeName}): ${known.message}\n`);
  process.exit(1);
}

interface CloneFlags {
  newName?: string;
  destDir?: string;
  parallel: number;
  verify: boolean;
  preserveMac: boolean;
  start: boolean;
  timeout: number;
  detach: boolean;
}

async function cloneCommand(sourceHost: string, destinationHost: string, vmName: string, flags: CloneFlags, program: Command): Promise<void> {
  const globals = program.opts<{ config?: string; output: OutputFormat; quiet: boolean }>();
  const output = globals.output === 'json' || !process.stdout.isTTY ? 'json' : 'text';
  try {
    const config = await loadConfig(globals.config);
    const warning = await configPermissionWarning(globals.config ?? defaultConfigPath());
    if (warning && !globals.quiet) process.stderr.write(`kvm-clone: warning: ${warning}\n`);

    const embedded = config.temporal.address ? undefined : await ensureEmbeddedTemporal(stateDir());
    const address = config.temporal.address ?? embedded!.address;
    const taskQueue = config.temporal.taskQueue ?? DEFAULT_TASK_QUEUE;
    if (embedded && !globals.quiet) process.stderr.write(`kvm-clone: Temporal Web UI: ${embedded.uiUrl}\n`);

    const connection = await Connection.connect({ address });
    const client = new KvmCloneClient(new Client({ connection, namespace: config.temporal.namespace }), taskQueue);
    const input: CloneInput = {
      source: sourceHost,
      destination: destinationHost,
      vmName,
      parallel: flags.parallel,
      verify: flags.verify,
      preserveMac: flags.preserveMac,
      start: flags.start,
      timeout: flags.timeout,
      ...(flags.newName ? { newName: flags.newName } : {}),
      ...(flags.destDir ? { destDir: flags.destDir } : {}),
    };
    const handle = await client.startClone(input);
    if (flags.detach) {
      process.stdout.write(output === 'json' ? `${JSON.stringify({ type: 'started', operationId: handle.workflowId })}\n` : `${handle.workflowId}\n`);
      await connection.close();
      return;
    }
    if (!globals.quiet) process.stderr.write(`kvm-clone: operation ${handle.workflowId}\n`);

    // With the embedded server, this command is the worker for the duration of the operation.
    if (embedded) Runtime.install({ logger: new DefaultLogger('WARN') });
    const native = embedded ? await NativeConnection.connect({ address }) : undefined;
    const worker = native ? await createKvmCloneWorker({ connection: native, namespace: config.temporal.namespace, taskQueue, hosts: config.hosts }) : undefined;
    const running = worker?.worker.run();

    let last = { time: Date.now(), bytes: 0 };
    let rate = 0;
    let finished = false;
    const ticker = setInterval(() => {
      client.progress(handle.workflowId).then(
        (progress) => {
          const now = Date.now();
          const instant = ((progress.bytesDone - last.bytes) * 1000) / Math.max(1, now - last.time);
          rate = rate === 0 ? instant : rate * 0.7 + instant * 0.3;
          last = { time: now, bytes: progress.bytesDone };
          // A poll answered after the result must not print after it.
          if (globals.quiet || finished) return;
          const line = renderProgress(progress, rate, output);
          if (output === 'json') process.stdout.write(`${line}\n`);
          else process.stderr.write(`\r${line}\u001b[K`);
        },
        () => undefined,
      );
    }, 1000);
    try {
      const result = await client.result<Record<string, unknown>>(handle.workflowId).finally(() => {
        finished = true;
      });
      if (output === 'text' && !globals.quiet) process.stderr.write('\n');
      process.stdout.write(output === 'json' ? `${JSON.stringify({ type: 'result', ...result })}\n` : `${JSON.stringify(result, null, 2)}\n`);
    } finally {
      clearInterval(ticker);
      worker?.worker.shutdown();
      await running;
      worker?.deps.pool.closeAll();
      await native?.close();
      await connection.close();
    }
  } catch (error) {
    if (output === 'text') process.stderr.write('\n');
    fail(error, output);
  }
}

export function buildProgram(): Command {
  const program = new Command('kvm-clone')
    .description('Copy KVM/libvirt VMs between hosts over SSH, as durable Temporal workflows.')
    .version(version)
    .option('-c, --config <file>', `config file (default: ${defaultConfigPath()})`)
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('-q, --quiet', 'no progress or notes on stderr', false);

  program
    .command('clone')
    .description('clone VM from SOURCE host to DEST host (host aliases from the config)')
    .argument('<source>', 'source host alias')
    .argument('<dest>', 'destination host alias')
    .argument('<vm>', 'name of the VM on the source')
    .option('--new-name <name>', 'name of the copy (default: <vm>_clone)')
    .option('--dest-dir <dir>', "destination directory for disks (default: the host's storageDir)")
    .option('--parallel <n>', 'ranges copied at once', integer, 4)
    .option('--no-verify', 'skip the digest comparison of each disk')
    .option('--preserve-mac', 'keep the source MAC addresses', false)
    .option('--start', 'start the copy once defined', false)
    .option('--timeout <seconds>', 'give up and clean up after this many seconds', integer, 3600)
    .option('--detach', 'print the operation id and return at once', false)
    .action((source: string, dest: string, vm: string, flags: CloneFlags) => cloneCommand(source, dest, vm, flags, program));

  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: unknown) => fail(error, 'text'));
}
