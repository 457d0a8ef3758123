import { Command, Option } from 'commander';
import { HostRegistry } from '../../activities/host-registry';
import type { HostSpec } from '../../domain/schemas/host';
import { ErrorCode, KvmCloneError } from '../../errors';
import { listDomains, type DomainListing, type StateFilter } from '../../hosts/domain-listing';
import { openSshSession } from '../../hosts/ssh-session';
import { domainListText, type DomainListDocument } from '../domain-list-view';
import { cliContext, loadCliConfig } from '../global-options';
import { errorDocument, fail, printResult } from '../output';

/**
 * Lists one host's VMs. A dropped connection is tried again on a new one, as activities
 * are retried: a list is read-only, so repeating it is harmless.
 */
async function listHost(spec: HostSpec, filter: StateFilter, attempts = 3): Promise<DomainListing[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const session = await openSshSession(spec);
      try {
        return await listDomains(session, filter);
      } finally {
        session.close();
      }
    } catch (error) {
      if (attempt >= attempts || !(error instanceof KvmCloneError) || error.code !== ErrorCode.CONNECTION_ERROR)
        throw error;
    }
  }
}

interface ListFlags {
  status: StateFilter;
  /** The original tool's spelling of the output format: table is -o text, json is -o json. */
  format?: 'table' | 'json';
}

async function runList(hostAliases: string[], flags: ListFlags, command: Command): Promise<void> {
  const globalContext = cliContext(command);
  const context = flags.format
    ? { ...globalContext, format: flags.format === 'table' ? ('text' as const) : flags.format }
    : globalContext;
  try {
    const config = await loadCliConfig(context);
    const registry = new HostRegistry(config.hosts);
    const aliases = hostAliases.length > 0 ? hostAliases : Object.keys(config.hosts);
    // Every alias is checked before any host is contacted, so a typo fails at once.
    const hosts = aliases.map((alias) => ({ alias, spec: registry.resolve(alias) }));
    const document: DomainListDocument = { type: 'list', domains: [], errors: [] };
    const answers = await Promise.allSettled(
      hosts.map(async ({ alias, spec }) =>
        (await listHost(spec, flags.status)).map((domain) => ({ host: alias, ...domain })),
      ),
    );
    answers.forEach((answer, index) => {
      const host = hosts[index]!.alias;
      if (answer.status === 'fulfilled') document.domains.push(...answer.value);
      else document.errors.push({ host, ...errorDocument(answer.reason) });
    });
    printResult(context.format, document, domainListText);
    for (const failure of document.errors)
      process.stderr.write(
        `kvm-clone: error ${failure.code} (${failure.codeName}): host ${failure.host}: ${failure.message}\n`,
      );
    if (document.errors.length > 0) process.exitCode = 1;
  } catch (error) {
    fail(error, context.format);
  }
}

export function listCommand(): Command {
  return new Command('list')
    .description('list the VMs on the given hosts (default: every configured host), queried live over SSH')
    .argument('[hosts...]', 'host aliases from the config')
    .addOption(
      new Option('-s, --status <state>', 'only VMs in this state')
        .choices(['all', 'running', 'stopped', 'paused'])
        .default('all'),
    )
    .addOption(
      new Option('--format <format>', 'table or json; the same as -o text or -o json').choices(['table', 'json']),
    )
    .action((hosts: string[], flags: ListFlags, command: Command) => runList(hosts, flags, command));
}
