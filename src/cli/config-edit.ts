import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, parse } from 'yaml';
import { ErrorCode, KvmCloneError } from '../errors';
import { parseConfigText, validateConfigDocument, type ConfigDocument } from './config';
import type { ConfiguredWebhook } from '../domain/schemas/notify';
import { webhookOrigin } from '../domain/webhook-target';
import type { KvmCloneConfig } from './config-schema';

/**
 * `temporal.address` → ['temporal', 'address']. A segment may be quoted, for host aliases
 * that hold dots: `hosts."db.example".port`.
 */
export function parseKeyPath(key: string): string[] {
  const segments: string[] = [];
  const pattern = /\s*(?:"([^"]*)"|'([^']*)'|([^.'"]+))\s*(\.|$)/y;
  let position = 0;
  while (position < key.length) {
    pattern.lastIndex = position;
    const match = pattern.exec(key);
    if (!match) break;
    segments.push((match[1] ?? match[2] ?? match[3] ?? '').trim());
    position = pattern.lastIndex;
    if (match[4] === '') break;
  }
  if (
    position < key.length ||
    segments.length === 0 ||
    segments.some((segment) => segment === '') ||
    key.trim().endsWith('.')
  ) {
    throw new KvmCloneError(
      ErrorCode.CONFIGURATION_ERROR,
      `'${key}' is not a config key: write it as dotted names, e.g. temporal.address or hosts.prod-a.port`,
      { key },
    );
  }
  return segments;
}

/**
 * A value as YAML reads it, so `2222` is a number, `true` a boolean and `{lan: br0}` a
 * mapping; `asString` keeps the text as it is (e.g. a user named `0123`).
 */
export function parseConfigValue(text: string, asString = false): unknown {
  if (asString) return text;
  try {
    const value: unknown = parse(text);
    return value === null || value === undefined ? text : value;
  } catch {
    return text;
  }
}

/**
 * Re-reads the edited document as the file would hold it, so that an invalid edit is
 * reported with the line it would have, and nothing invalid is ever written.
 */
function revalidated(config: ConfigDocument): { text: string; config: KvmCloneConfig } {
  const text = config.document.toString();
  return { text, config: validateConfigDocument(parseConfigText(text, config.path)) };
}

/** Sets one key, keeping the comments and layout of the rest of the file. */
export function setConfigValue(
  config: ConfigDocument,
  key: string,
  value: unknown,
): { text: string; config: KvmCloneConfig } {
  const keyPath = parseKeyPath(key);
  for (let depth = 1; depth < keyPath.length; depth++) {
    const parent = config.document.getIn(keyPath.slice(0, depth), true);
    if (parent !== undefined && parent !== null && !isMap(parent)) {
      throw new KvmCloneError(
        ErrorCode.CONFIGURATION_ERROR,
        `${config.path}: ${keyPath.slice(0, depth).join('.')} is a value, not a section, so ${key} cannot be set`,
        { key },
      );
    }
    // The template's empty `{}` sections would otherwise grow into one long flow line.
    if (isMap(parent) && parent.flow && parent.items.length === 0) parent.flow = false;
  }
  config.document.setIn(keyPath, config.document.createNode(value));
  return revalidated(config);
}

/** Removes one key; removing a key that is not set is an error, since it likely is a typo. */
export function unsetConfigValue(config: ConfigDocument, key: string): { text: string; config: KvmCloneConfig } {
  const keyPath = parseKeyPath(key);
  if (!config.document.hasIn(keyPath)) {
    throw new KvmCloneError(ErrorCode.CONFIGURATION_ERROR, `${config.path}: ${key} is not set`, { key });
  }
  config.document.deleteIn(keyPath);
  return revalidated(config);
}

/** The value at a key in the validated config, for `config show KEY`. */
export function configValueAt(config: KvmCloneConfig, key: string): unknown {
  let value: unknown = config;
  for (const segment of parseKeyPath(key)) {
    if (value === null || typeof value !== 'object' || !(segment in value)) {
      throw new KvmCloneError(ErrorCode.CONFIGURATION_ERROR, `${key} is not set`, { key });
    }
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** A webhook for display: its URL by origin (a Slack or Teams URL is a secret itself), its secret as set or not. */
function redactedWebhook(webhook: ConfiguredWebhook): ConfiguredWebhook {
  return { ...webhook, url: webhookOrigin(webhook.url), ...(webhook.secret === undefined ? {} : { secret: '(set)' }) };
}

/**
 * The config for display: the API key, webhook secrets and URLs are replaced, so a shared terminal does not leak them.
 */
export function redactedConfig(config: KvmCloneConfig): KvmCloneConfig {
  const inPlace = config.notifications.webhooks.map((entry) =>
    typeof entry === 'string' ? entry : redactedWebhook(entry),
  );
  return {
    ...config,
    ...(config.temporal.apiKey === undefined ? {} : { temporal: { ...config.temporal, apiKey: '(set)' } }),
    webhooks: Object.fromEntries(
      Object.entries(config.webhooks).map(([name, webhook]) => [name, redactedWebhook(webhook)]),
    ),
    notifications: { ...config.notifications, webhooks: inPlace },
  };
}

/** What `config init` writes: every section, commented, and valid as it stands. */
export function initialConfigText(): string {
  return `# kvm-clone configuration. Check it with: kvm-clone config show
# Edit with: kvm-clone config set KEY VALUE / kvm-clone config unset KEY (comments are kept).

# KVM hosts by alias, as commands name them: kvm-clone clone prod-a standby-b web01
hosts: {}
#  prod-a:
#    address: 10.0.0.11
#    port: 22                              # default 22
#    user: root                            # default root
#    become: sudo                          # when user is an admin, not root: commands run through sudo -n
#    identityFile: /root/.ssh/id_ed25519   # or the SSH agent (SSH_AUTH_SOCK)
#    knownHostsFile: /root/.ssh/known_hosts
#    hostKeyPolicy: strict                 # strict (default) | accept-new
#    libvirtUri: qemu:///system            # default
#    storageDir: /var/lib/libvirt/images   # default
#    writableDirs: [/var/lib/libvirt/images, /srv/vms]   # where clones may write; default: storageDir
#    storagePools: [default]               # pools clones may put volumes in; default: storagePool
#    direct:                               # direct mode: how prod-a itself reaches other hosts
#      standby-b: { address: 10.1.0.12, identityFile: /root/.ssh/id_ed25519 }   # paths on prod-a
#    jump: { address: bastion.example.net, user: ops }   # reach prod-a through a jump host (ProxyJump)

temporal:
  # Omit the address to use the embedded dev server on this machine.
  # address: temporal.internal:7233
  namespace: default
  # taskQueue: kvm-clone
  # tls: true                              # or { serverName, caFile, certFile, keyFile }
  # apiKey: ...                            # better: the KVM_CLONE_TEMPORAL_API_KEY environment variable

# Defaults for command options; flags on the command line win.
defaults:
  clone: {}
  #  parallel: 4
  #  bandwidthLimit: 100M
  #  compress: true
  #  networkMap: { default: br0 }
  sync: {}
  #  parallel: 4
  #  bandwidthLimit: 100M

# What a workflow input may ask of a worker run with this config (the Temporal UI and
# schedules can start workflows too). Read by the worker; these are the defaults.
# policy:
#   inlineHosts: false                     # true: take full host objects from inputs (keys, addresses)
#   hostReferences: false                  # true: take user@host names, resolved with the worker user's ~/.ssh/config
#                                          #   (unset: on for the CLI's own worker, off for kvm-clone worker)
#   webhookUrls: []                        # URL prefixes ad-hoc webhooks (--notify URL) must start with
#   allowDevices: []                       # e.g. [hostdev, filesystem]: device kinds a clone may keep
#   hostFiles: [/usr/share]                # dirs of files a clone may reference without copying

# Webhooks by name. Operations name them, so URLs and secrets stay on the worker.
webhooks: {}
#  ops:
#    url: https://hooks.example/kvm-clone
#    secretEnv: KVM_CLONE_WEBHOOK_SECRET   # read by the worker; or secret: …
#    events: [failure, cancelled]
#    format: json                          # or slack: { "text": … } for Slack/Teams incoming webhooks

# Webhooks (names from webhooks:) told how every operation started from the CLI ends.
notifications:
  webhooks: []
  #  - ops
`;
}

/**
 * Writes the config readable by its owner only (it may hold keys), replacing the old
 * file in one rename so a crash never leaves half a config.
 */
export async function writeConfigFile(configPath: string, text: string): Promise<void> {
  await mkdir(path.dirname(configPath), { recursive: true, mode: 0o700 });
  const temporary = `${configPath}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, configPath);
}
