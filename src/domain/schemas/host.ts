import { z } from 'zod';

/** Host names and addresses: DNS names, IPv4, or IPv6 (bare or in brackets). */
const hostAddressPattern =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\d{1,3}(?:\.\d{1,3}){3}|\[?[0-9A-Fa-f:.]+\]?)$/;

export const hostAddressSchema = z
  .string()
  .min(1, 'host address is empty')
  .max(253)
  .regex(hostAddressPattern, 'not a valid host name or IP address');

export const absolutePathSchema = z
  .string()
  .min(1, 'path is empty')
  .refine((path) => path.startsWith('/'), 'must be an absolute path')
  .refine((path) => !path.includes('\0'), 'must not contain NUL bytes')
  .refine((path) => !path.split('/').includes('..'), "must not contain '..'");

export const storagePoolNameSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.-]+$/, 'not a valid storage pool name');

export const hostKeyPolicySchema = z.enum(['strict', 'accept-new']);

export const sshUserSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/, 'not a valid user name');

export const sshPortSchema = z.number().int().min(1).max(65535);

/**
 * A jump host (OpenSSH's ProxyJump): the worker connects to it first and reaches the next
 * host through a channel forwarded by it. Its own `jump`, if any, is reached before it.
 */
export interface JumpHost {
  address: string;
  port: number;
  user: string;
  identityFile?: string | undefined;
  agent?: string | undefined;
  knownHostsFile?: string | undefined;
  hostKeyPolicy: 'strict' | 'accept-new';
  jump?: JumpHost | undefined;
}

/** At most this many jump hosts before a host: a longer chain is more likely a loop in an ssh_config than a network. */
export const MAX_JUMP_HOPS = 8;

function jumpDepth(jump: JumpHost | undefined): number {
  return jump ? 1 + jumpDepth(jump.jump) : 0;
}

const jumpHostObjectSchema = z
  .object({
    address: hostAddressSchema,
    port: sshPortSchema.default(22),
    user: sshUserSchema.default('root'),
    identityFile: absolutePathSchema.optional(),
    agent: z.string().optional(),
    knownHostsFile: absolutePathSchema.optional(),
    hostKeyPolicy: hostKeyPolicySchema.default('strict'),
    get jump() {
      return jumpHostObjectSchema.optional();
    },
  })
  .strict();

export const jumpHostSchema = jumpHostObjectSchema.refine(
  (jump) => jumpDepth(jump as JumpHost) <= MAX_JUMP_HOPS,
  `more than ${MAX_JUMP_HOPS} jump hosts in a row`,
);

/** Everything needed to reach one KVM host and store disks on it. */
export const hostSpecSchema = z.object({
  address: hostAddressSchema,
  port: sshPortSchema.default(22),
  user: sshUserSchema.default('root'),
  identityFile: absolutePathSchema.optional(),
  /** Use the SSH agent at this socket (defaults to SSH_AUTH_SOCK when no identity file is given). */
  agent: z.string().optional(),
  knownHostsFile: absolutePathSchema.optional(),
  hostKeyPolicy: hostKeyPolicySchema.default('strict'),
  /** Reach the host through this jump host (OpenSSH's ProxyJump), which the worker connects to first. */
  jump: jumpHostSchema.optional(),
  libvirtUri: z.string().min(1).default('qemu:///system'),
  storageDir: absolutePathSchema.default('/var/lib/libvirt/images'),
  /** A directory-type libvirt storage pool for copies made on this host; wins over storageDir. */
  storagePool: storagePoolNameSchema.optional(),
  /**
   * Directories a clone or sync may write into on this host (and under them). Absent: the
   * storage directory alone. A destination directory or a target's file elsewhere is 1302.
   */
  writableDirs: z.array(absolutePathSchema).min(1).optional(),
  /** Storage pools whose directory a clone may write into. Absent: storagePool alone, if set. */
  storagePools: z.array(storagePoolNameSchema).optional(),
  /**
   * `sudo`: every command on this host runs as root through `sudo -n /bin/sh -c` (see
   * src/domain/become.ts), for an SSH user that is an admin rather than root.
   */
  become: z.enum(['sudo']).optional(),
});

export type HostSpec = z.output<typeof hostSpecSchema>;

/** The directories an operation may write into on a host: writableDirs, else the storage directory. */
export function writableRoots(host: Pick<HostSpec, 'writableDirs' | 'storageDir'>): string[] {
  return host.writableDirs ?? [host.storageDir];
}

/** The storage pools an operation may put volumes into on a host. */
export function writablePools(host: Pick<HostSpec, 'storagePools' | 'storagePool'>): string[] {
  return host.storagePools ?? (host.storagePool ? [host.storagePool] : []);
}
export type HostSpecInput = z.input<typeof hostSpecSchema>;

/** Longest reference: `ssh://`, a 64-byte user, `@`, a 253-byte name and `:65535`. */
const maxHostRefLength = 330;

/**
 * A host in a workflow input or on the command line: a name, never settings. Either an
 * alias from the worker's configuration, or (when the worker's policy.hostReferences
 * allows it) a reference as OpenSSH users write it, `[user@]host[:port]` or
 * `ssh://[user@]host[:port]`, which the worker resolves with its own ~/.ssh/config, keys
 * and known_hosts. The object form is a full specification, taken only under
 * policy.inlineHosts.
 */
export const hostRefSchema = z.union([
  z
    .string()
    .min(1)
    .max(maxHostRefLength)
    .regex(/^(?:ssh:\/\/)?[A-Za-z0-9_.@:[\]-]+\/?$/i, 'not a valid host alias or [user@]host[:port] reference'),
  hostSpecSchema,
]);
export type HostRef = z.output<typeof hostRefSchema>;
export type HostRefInput = z.input<typeof hostRefSchema>;

/**
 * A name to look up in ssh_config: its `Host` patterns may name hosts that DNS could not
 * (`Host kvm_1`), so only the address it resolves to must be a valid host name.
 */
const hostNamePattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$/;

/** A host as OpenSSH's command line names it: what `ssh user@host -p port` or `ssh ssh://user@host:port` takes. */
export interface HostReference {
  /** The name to look up in ssh_config (`Host` patterns), or an address. */
  host: string;
  user?: string;
  port?: number;
}

/**
 * Parses `[user@]host[:port]` or `ssh://[user@]host[:port]` (an IPv6 address in brackets
 * when a port follows; bare without one). Returns the reason when `text` is neither.
 */
export function parseHostReference(text: string): HostReference | { error: string } {
  const uri = /^ssh:\/\//i.test(text);
  const rest = uri ? text.slice('ssh://'.length).replace(/\/$/, '') : text;
  if (rest.includes('/')) return { error: uri ? 'an ssh:// reference takes no path' : "'/' is not allowed" };
  const at = rest.lastIndexOf('@');
  const user = at >= 0 ? rest.slice(0, at) : undefined;
  const hostPort = at >= 0 ? rest.slice(at + 1) : rest;
  if (user !== undefined && !sshUserSchema.safeParse(user).success)
    return { error: `'${user}' is not a valid user name` };
  const split = splitHostPort(hostPort, uri);
  if ('error' in split) return split;
  if (!hostNamePattern.test(split.host) && !hostAddressSchema.safeParse(split.host).success) {
    return { error: `'${split.host}' is not a valid host name or IP address` };
  }
  const reference: HostReference = { host: split.host };
  if (user !== undefined) reference.user = user;
  if (split.port !== undefined) {
    const port = /^\d{1,5}$/.test(split.port) ? Number(split.port) : Number.NaN;
    if (!sshPortSchema.safeParse(port).success) return { error: `'${split.port}' is not a valid port` };
    reference.port = port;
  }
  return reference;
}

function splitHostPort(text: string, uri: boolean): { host: string; port?: string } | { error: string } {
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed)
    return bracketed[2] === undefined ? { host: bracketed[1]! } : { host: bracketed[1]!, port: bracketed[2] };
  if (text.includes('[') || text.includes(']')) return { error: `'${text}' has unbalanced brackets` };
  const colons = text.split(':').length - 1;
  if (colons === 0) return { host: text };
  if (colons === 1) {
    const [host, port] = text.split(':') as [string, string];
    return { host, port };
  }
  // A bare IPv6 address: ssh takes one, but a URI needs brackets (RFC 3986).
  return uri ? { error: `an IPv6 address in an ssh:// reference needs brackets: [${text}]` } : { host: text };
}
