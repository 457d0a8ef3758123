import { Command, Option } from 'commander';
import type { CloneResult } from '../../domain/clone-result';
import { cloneInputFromFlags, type CloneFlags } from '../clone-flags';
import { cloneResultText } from '../clone-result-view';
import { cliContext, loadCliConfig } from '../global-options';
import { startWorkerUnlessPolling, type RunningWorker } from '../in-process-worker';
import { fail, formatDocument, printResult } from '../output';
import { followOperation, progressSink, progressStyle, streamingFormat } from '../progress-follow';
import { connectTemporal, type TemporalAccess } from '../temporal-access';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Ctrl-C ends the command, not the operation: it goes on when a worker runs. */
function onInterrupt(operationId: string, worker: RunningWorker | undefined, note: (message: string) => void): () => void {
  let interrupted = false;
  const handler = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    note(`interrupted; operation ${operationId} goes on when a worker runs (follow it with: kvm-clone status ${operationId} --follow)`);
    void (worker?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

async function runClone(source: string, destination: string, vmName: string, flags: CloneFlags, command: Command): Promise<void> {
  const context = cliContext(command);
  const format = streamingFormat(context.format, Boolean(process.stdout.isTTY));
  let access: TemporalAccess | undefined;
  let worker: RunningWorker | undefined;
  try {
    const config = await loadCliConfig(context);
    const input = cloneInputFromFlags({ source, destination, vmName }, flags, config.defaults.clone);
    access = await connectTemporal(context, config);
    const handle = await access.client.startClone(input);
    const operationId = handle.workflowId;
    if (flags.detach) {
      printResult(format, { type: 'started', operationId }, () => `${operationId}\n`);
      if (access.embedded) context.note(`follow it with: kvm-clone status ${operationId} --follow (the operation runs while a worker runs)`);
      return;
    }
    context.note(`operation ${operationId}`);
    if (access.embedded) worker = await startWorkerUnlessPolling(context, config, access);
    const stopListening = onInterrupt(operationId, worker, context.note);
    try {
      const sink = progressSink(progressStyle({ format, quiet: context.options.quiet, stderrIsTty: Boolean(process.stderr.isTTY) }), operationId);
      const result = await followOperation<CloneResult>(access.client, operationId, sink);
      process.stdout.write(format === 'text' ? cloneResultText(result) : formatDocument(format, { type: 'result', ...result }));
    } finally {
      stopListening();
    }
  } catch (error) {
    await worker?.stop().catch(() => undefined);
    await access?.close().catch(() => undefined);
    fail(error, format);
  }
  await worker?.stop();
  await access?.close();
}

export function cloneCommand(): Command {
  return new Command('clone')
    .description('clone VM from host SOURCE to host DEST (host aliases from the config), showing live progress')
    .argument('<source>', 'source host alias')
    .argument('<dest>', 'destination host alias')
    .argument('<vm>', 'name of the VM on the source')
    .option('--new-name <name>', 'name of the copy (default: <vm>_clone)')
    .option('--dest-dir <dir>', "directory for the disks on the destination (default: the host's storageDir)")
    .option('--dest-pool <pool>', 'put the disks in this directory-type storage pool on the destination')
    .option('--force', 'replace a destination VM of the same name, once the copy is verified')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--parallel <n>', 'ranges copied at once, across all disks (default 4)')
    .option('--compress', 'compress on the wire with zstd or lz4, when both hosts have it')
    .addOption(new Option('--verify', 'compare SHA-256 digests computed on each host (default)').hideHelp())
    .option('--no-verify', 'skip the digest comparison')
    .option('--preserve-mac', "keep the source's MAC addresses")
    .option('--bandwidth-limit <rate>', 'cap the transfer rate, e.g. 100M (per second, K = 1024)')
    .option('--timeout <seconds>', 'give up and clean up after this many seconds (default 3600)')
    .option('--start', 'start the copy once it is defined')
    .option('--network-map <src=dst>', 'attach interfaces on network or bridge SRC to DST on the destination (repeatable)', collect)
    .option('--copy-cdroms', 'copy CD-ROM images too')
    .option('--exclude-disk <target>', 'leave this disk (e.g. vdb) out of the copy (repeatable)', collect)
    .option('--flatten', 'merge a backing chain into one image on the destination')
    .option('--detach', 'print the operation id and return at once')
    .action((source: string, dest: string, vm: string, flags: CloneFlags, command: Command) => runClone(source, dest, vm, flags, command));
}
