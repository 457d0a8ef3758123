import { Command } from 'commander';
import { stateDir } from '../config';
import { embeddedServerSettings, runEmbeddedTemporal } from '../embedded-temporal';
import { cliContext } from '../global-options';
import { fail, printResult } from '../output';

async function runServer(command: Command): Promise<void> {
  const context = cliContext(command);
  try {
    const settings = embeddedServerSettings(stateDir());
    const server = await runEmbeddedTemporal(settings);
    printResult(
      context.format,
      { type: 'server', address: server.address, uiUrl: settings.uiUrl, stateDir: settings.stateDir, pid: server.pid },
      (document) =>
        `Temporal dev server at ${document.address}\nWeb UI: ${document.uiUrl}\nstate: ${document.stateDir}\nCtrl-C stops it.\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    context.note('stopping the Temporal dev server');
    await server.stop();
  } catch (error) {
    fail(error, context.format);
  }
}

export function serverCommand(): Command {
  return new Command('server')
    .description(
      `run the embedded Temporal dev server in the foreground, with its Web UI (ports: $KVM_CLONE_EMBEDDED_PORT, $KVM_CLONE_EMBEDDED_UI_PORT; state: $XDG_STATE_HOME/kvm-clone)`,
    )
    .action((_flags: unknown, command: Command) => runServer(command));
}
