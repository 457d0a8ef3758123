import { Command } from 'commander';
import { cliContext, loadCliConfig } from '../global-options';
import { fail, printResult } from '../output';
import { connectTemporal, type TemporalAccess } from '../temporal-access';

async function runCancel(operationId: string, command: Command): Promise<void> {
  const context = cliContext(command);
  let access: TemporalAccess | undefined;
  try {
    const config = await loadCliConfig(context);
    access = await connectTemporal(context, config);
    await access.client.cancel(operationId);
    printResult(
      context.format,
      { type: 'cancelled', operationId },
      () => `cancellation of ${operationId} requested; it cleans up the destination before it ends\n`,
    );
  } catch (error) {
    await access?.close().catch(() => undefined);
    fail(error, context.format);
  }
  await access?.close();
}

export function cancelCommand(): Command {
  return new Command('cancel')
    .description('cancel a running operation; it removes what it created on the destination')
    .argument('<operation-id>', 'the operation, as clone or status printed it')
    .action((operationId: string, _flags: unknown, command: Command) => runCancel(operationId, command));
}
