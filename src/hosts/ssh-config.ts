import path from 'node:path';
import type * as SshConfigModule from 'ssh-config' with { 'resolution-mode': 'import' };
import {
  hostAddressSchema,
  hostSpecSchema,
  MAX_JUMP_HOPS,
  parseHostReference,
  sshUserSchema,
  type HostReference,
  type HostSpec,
  type JumpHost,
} from '../domain/schemas/host';
import { validate } from '../domain/schemas/validate';
import { ErrorCode, KvmCloneError } from '../errors';
import type { SshConfigEnvironment, SshConfigFile } from './ssh-config-files';

// The package's exports list its ESM typings first, so TypeScript cannot import it from
// CommonJS; its CommonJS build is what Node loads, with the same API.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { SSHConfig, parse } = require('ssh-config') as typeof SshConfigModule;
type SSHConfig = SshConfigModule.SSHConfig;
type Line = SshConfigModule.Line;
type Section = SshConfigModule.Section;

/** OpenSSH's own limit on nested Include files (READCONF_MAX_DEPTH). */
const maxIncludeDepth = 16;

/** The keys OpenSSH tries when no IdentityFile is given; security-key (-sk) types are left out, ssh2 cannot use them. */
const defaultIdentityFiles = ['id_rsa', 'id_ecdsa', 'id_ed25519', 'id_dsa'];

function configError(reason: string, details: Record<string, unknown> = {}): KvmCloneError {
  return new KvmCloneError(ErrorCode.CONFIGURATION_ERROR, reason, details);
}

function isSection(line: Line): line is Section {
  return 'config' in line;
}

function isInclude(line: Line): boolean {
  return 'param' in line && /^include$/i.test(line.param);
}

function directiveValues(line: Line): string[] {
  if (!('value' in line)) return [];
  return typeof line.value === 'string' ? [line.value] : line.value.map(({ val }) => val);
}

/** `*` and `?` within one file name, as glob(3) matches them for Include. */
function fileNamePattern(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/** The files an Include names, in glob(3)'s sorted order; a pattern that matches nothing includes nothing. */
function includedFiles(pattern: string, includeDir: string, environment: SshConfigEnvironment): string[] {
  const label = `Include ${pattern}`;
  const expanded = expandTilde(expandEnvironment(pattern, label, environment), label, environment);
  const file = path.isAbsolute(expanded) ? expanded : path.join(includeDir, expanded);
  const dir = path.dirname(file);
  if (/[*?[]/.test(dir)) {
    throw configError(`Include ${pattern}: wildcards are supported in the file name only, not in directories`);
  }
  const name = path.basename(file);
  if (!/[*?[]/.test(name)) return [file];
  const matcher = fileNamePattern(name);
  return environment
    .listDir(dir)
    .filter((entry) => matcher.test(entry) && !entry.startsWith('.'))
    .sort()
    .map((entry) => path.join(dir, entry));
}

function readIncluded(line: Line, origin: SshConfigFile, environment: SshConfigEnvironment, depth: number): Line[] {
  if (depth >= maxIncludeDepth) throw configError(`Include nested more than ${maxIncludeDepth} deep in ${origin.file}`);
  const lines: Line[] = [];
  for (const pattern of directiveValues(line)) {
    for (const file of includedFiles(pattern, origin.includeDir, environment)) {
      const text = environment.readFile(file);
      if (text === undefined) continue;
      lines.push(...withIncludes(parse(text), { file, includeDir: origin.includeDir }, environment, depth + 1));
    }
  }
  return lines;
}

function sectionLike(section: Section): Section {
  return { ...section, config: new SSHConfig() };
}

/**
 * The parser reads one file and leaves `Include` as a directive. OpenSSH reads the named
 * files in its place: their lines before their first Host or Match belong to the enclosing
 * section, and their own sections are matched on their own, after which the enclosing
 * section goes on. So an enclosing section is split around the included sections.
 */
function withIncludes(lines: Iterable<Line>, origin: SshConfigFile, environment: SshConfigEnvironment, depth = 0) {
  const result: Line[] = [];
  for (const line of lines) {
    if (isInclude(line)) {
      result.push(...readIncluded(line, origin, environment, depth));
      continue;
    }
    if (!isSection(line)) {
      result.push(line);
      continue;
    }
    let piece = sectionLike(line);
    result.push(piece);
    for (const inner of line.config) {
      if (!isInclude(inner)) {
        piece.config.push(inner);
        continue;
      }
      const included = readIncluded(inner, origin, environment, depth);
      const firstSection = included.findIndex(isSection);
      piece.config.push(...(firstSection < 0 ? included : included.slice(0, firstSection)));
      if (firstSection >= 0) {
        result.push(...included.slice(firstSection));
        piece = sectionLike(line);
        result.push(piece);
      }
    }
  }
  return result;
}

/** Every ssh_config file of the environment, in order, with its Include lines read. */
export function loadSshConfig(environment: SshConfigEnvironment): SSHConfig {
  const config = new SSHConfig();
  for (const origin of environment.configFiles) {
    const text = environment.readFile(origin.file);
    if (text !== undefined) config.push(...withIncludes(parse(text), origin, environment));
  }
  return config;
}

/** `label` names the directive and its value as written, for errors. */
function expandEnvironment(value: string, label: string, environment: SshConfigEnvironment): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
    const found = environment.env[name];
    if (found === undefined) throw configError(`${label}: environment variable ${name} is not set`);
    return found;
  });
}

function expandTilde(value: string, label: string, environment: SshConfigEnvironment): string {
  if (value === '~' || value.startsWith('~/')) return environment.home + value.slice(1);
  if (value.startsWith('~')) throw configError(`${label}: ~user is not supported; write the path`);
  return value;
}

/**
 * OpenSSH's %-tokens, those `allowed` for the directive. A token kvm-clone cannot
 * compute (%C, %k, %j, %T) is an error rather than a guess at a file name.
 */
function expandTokens(value: string, label: string, tokens: Record<string, string>, allowed: string): string {
  return value.replace(/%(.)?/g, (match, token: string | undefined) => {
    if (token === '%') return '%';
    if (token !== undefined && allowed.includes(token) && tokens[token] !== undefined) return tokens[token];
    throw configError(`${label}: the token ${match} is not supported here`);
  });
}

/** A file directive's value as OpenSSH expands it: ~, ${VAR} and %-tokens, to an absolute, normalised path. */
function expandPath(
  value: string,
  directive: string,
  tokens: Record<string, string>,
  environment: SshConfigEnvironment,
): string {
  const label = `${directive} ${value}`;
  const expanded = expandTokens(
    expandTilde(expandEnvironment(value, label, environment), label, environment),
    label,
    tokens,
    'dhilLnpru',
  );
  if (!path.isAbsolute(expanded)) {
    throw configError(
      `${label}: a relative path would depend on the worker's working directory; use ~/ or an absolute path`,
    );
  }
  // Normalised: the spec's path schema refuses '..', which OpenSSH would follow.
  return path.resolve(expanded);
}

type Computed = Record<string, string | string[]>;

function single(computed: Computed, key: string): string | undefined {
  const value = computed[key];
  return Array.isArray(value) ? value[0] : value;
}

function list(computed: Computed, key: string): string[] {
  const value = computed[key];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/**
 * StrictHostKeyChecking as the worker's two policies. `no` (and `off`) would let OpenSSH
 * connect to a host whose key CHANGED, which is the one case host keys exist for: it
 * becomes accept-new, which still records unknown keys without asking (what people who
 * write `no` want) and refuses a changed one. `ask` cannot ask on a worker: strict.
 */
export function hostKeyPolicyOf(value: string | undefined, name: string): 'strict' | 'accept-new' {
  switch ((value ?? 'ask').toLowerCase()) {
    case 'yes':
    case 'true':
    case 'ask':
      return 'strict';
    case 'accept-new':
    case 'no':
    case 'off':
    case 'false':
      return 'accept-new';
    default:
      throw configError(`ssh_config for '${name}': StrictHostKeyChecking ${value} is not a value OpenSSH knows`);
  }
}

/** Parses ProxyJump's `[user@]host[:port]` hops, or `ssh://` ones, as OpenSSH's -J does. */
export function parseProxyJump(value: string, name: string): HostReference[] {
  if (value.toLowerCase() === 'none') return [];
  return value.split(',').map((hop) => {
    const reference = parseHostReference(hop.trim());
    if ('error' in reference) throw configError(`ssh_config for '${name}': ProxyJump ${value}: ${reference.error}`);
    return reference;
  });
}

/**
 * What the command line adds to the resolution of the host a reference names (the CLI's `-k` and `--ssh-port`), never
 * to its jump hosts: OpenSSH runs a ProxyJump hop without the `-i` and `-p` of the command.
 */
export interface ReferenceDefaults {
  /** The key to use, as `ssh -i` puts it before ssh_config's IdentityFile; kvm-clone uses one key per host. */
  identityFile?: string;
  /** The port when neither the reference nor ssh_config's Port names one (before OpenSSH's 22). */
  port?: number;
}

interface Resolution {
  config: SSHConfig;
  environment: SshConfigEnvironment;
  /** Jump hosts resolved so far on this path: a longer chain is a loop. */
  hops: number;
}

type Connection = Pick<
  HostSpec,
  'address' | 'port' | 'user' | 'identityFile' | 'agent' | 'knownHostsFile' | 'hostKeyPolicy' | 'jump'
>;

function firstReadableIdentity(
  computed: Computed,
  tokens: Record<string, string>,
  resolution: Resolution,
  defaults: ReferenceDefaults,
) {
  // Named on the command line: used whether or not it can be read here, so a bad one fails rather than another key.
  if (defaults.identityFile !== undefined) return defaults.identityFile;
  const { environment } = resolution;
  const configured = list(computed, 'identityfile').filter((file) => file.toLowerCase() !== 'none');
  const candidates =
    configured.length > 0
      ? configured.map((file) => expandPath(file, 'IdentityFile', tokens, environment))
      : defaultIdentityFiles.map((file) => path.join(environment.home, '.ssh', file));
  return candidates.find((file) => environment.isReadable(file));
}

function knownHostsFileOf(computed: Computed, tokens: Record<string, string>, resolution: Resolution, name: string) {
  // OpenSSH reads every file listed and writes to the first; the worker reads and writes one.
  const first = list(computed, 'userknownhostsfile')[0];
  const file = first === undefined ? '~/.ssh/known_hosts' : first;
  if (file.toLowerCase() === 'none' || file === '/dev/null') {
    throw configError(
      `ssh_config for '${name}': UserKnownHostsFile ${file} keeps no host keys, so every connection would meet an unknown key: kvm-clone would either accept any key or refuse every one; name a real known_hosts file`,
    );
  }
  return expandPath(file, 'UserKnownHostsFile', tokens, resolution.environment);
}

function agentOf(computed: Computed, tokens: Record<string, string>, resolution: Resolution): string | undefined {
  const value = single(computed, 'identityagent');
  // `none` is not followed: the agent only adds keys this user already holds.
  if (value === undefined || value.toLowerCase() === 'none') return undefined;
  if (value === 'SSH_AUTH_SOCK') return resolution.environment.env.SSH_AUTH_SOCK;
  if (/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(value)) return resolution.environment.env[value.slice(1)];
  return expandPath(value, 'IdentityAgent', tokens, resolution.environment);
}

/** The jump host chain ProxyJump names: the last hop is the one that reaches the host, the first is reached first. */
function jumpChain(hops: HostReference[], resolution: Resolution, name: string): JumpHost | undefined {
  let previous: JumpHost | undefined;
  for (const [index, hop] of hops.entries()) {
    // The first hop follows its own ProxyJump; later ones are reached through the hop before them.
    previous = resolveConnection(
      hop,
      { ...resolution, hops: resolution.hops + index + 1 },
      name,
      index === 0 ? 'own' : previous,
    );
  }
  return previous;
}

function resolveConnection(
  reference: HostReference,
  resolution: Resolution,
  via: string,
  jump: 'own' | JumpHost | undefined,
  defaults: ReferenceDefaults = {},
): Connection {
  const { environment } = resolution;
  const name = reference.host;
  if (resolution.hops > MAX_JUMP_HOPS) {
    throw configError(
      `ssh_config for '${via}': ProxyJump leads through more than ${MAX_JUMP_HOPS} jump hosts, which is most likely a loop (e.g. Host * with ProxyJump that matches the jump host itself)`,
    );
  }
  const computed = resolution.config.compute(
    reference.user === undefined ? { Host: name.toLowerCase() } : { Host: name.toLowerCase(), User: reference.user },
    // Match exec would run a command of the config at every resolution, for whoever names a host.
    { ignoreCase: true, matchExec: false },
  );
  const proxyCommand = single(computed, 'proxycommand');
  if (proxyCommand !== undefined && proxyCommand.toLowerCase() !== 'none') {
    throw configError(
      `ssh_config for '${name}': ProxyCommand is not supported (the worker runs no local command to connect); use ProxyJump`,
    );
  }
  const hostName = single(computed, 'hostname') ?? name;
  const address = expandTokens(hostName, `HostName ${hostName}`, { h: name }, 'h');
  if (!hostAddressSchema.safeParse(address).success) {
    throw configError(`ssh_config for '${name}': HostName ${address} is not a valid host name or IP address`);
  }
  const user = reference.user ?? single(computed, 'user') ?? environment.localUser;
  if (!sshUserSchema.safeParse(user).success) throw configError(`ssh_config for '${name}': User ${user} is not valid`);
  const configuredPort = single(computed, 'port');
  const port = reference.port ?? (configuredPort === undefined ? (defaults.port ?? 22) : Number(configuredPort));
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw configError(`ssh_config for '${name}': Port ${configuredPort} is not a valid port`);
  }
  const tokens: Record<string, string> = {
    d: environment.home,
    h: address,
    i: String(environment.uid),
    l: environment.localHostname,
    L: environment.localHostname.split('.')[0]!,
    n: name,
    p: String(port),
    r: user,
    u: environment.localUser,
  };
  const connection: Connection = {
    address,
    port,
    user,
    knownHostsFile: knownHostsFileOf(computed, tokens, resolution, name),
    hostKeyPolicy: hostKeyPolicyOf(single(computed, 'stricthostkeychecking'), name),
  };
  const identityFile = firstReadableIdentity(computed, tokens, resolution, defaults);
  if (identityFile) connection.identityFile = identityFile;
  const agent = agentOf(computed, tokens, resolution);
  if (agent) connection.agent = agent;
  const chain =
    jump === 'own' ? jumpChain(parseProxyJump(single(computed, 'proxyjump') ?? 'none', name), resolution, name) : jump;
  if (chain) connection.jump = chain;
  return connection;
}

/**
 * Resolves a host reference with the worker's ssh_config, as `ssh [user@]host [-p port]`
 * would: HostName, User, Port, IdentityFile (the first the worker can read), IdentityAgent,
 * ProxyJump (each hop resolved the same way), UserKnownHostsFile and StrictHostKeyChecking.
 * The reference's user and port win over the config's, and `defaults` (the command line's
 * key and port) apply as ReferenceDefaults says. The libvirt and storage settings are the
 * defaults of a host spec: a reference names a host, not where it keeps its VMs.
 */
export function resolveSshHost(
  reference: HostReference,
  environment: SshConfigEnvironment,
  defaults: ReferenceDefaults = {},
): HostSpec {
  const config = loadSshConfig(environment);
  const connection = resolveConnection(reference, { config, environment, hops: 0 }, reference.host, 'own', defaults);
  return validate(hostSpecSchema, connection, `host '${reference.host}' from ssh_config`);
}
