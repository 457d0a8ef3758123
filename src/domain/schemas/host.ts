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

/** Everything needed to reach one KVM host and store disks on it. */
export const hostSpecSchema = z.object({
  address: hostAddressSchema,
  port: z.number().int().min(1).max(65535).default(22),
  user: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/, 'not a valid user name')
    .default('root'),
  identityFile: absolutePathSchema.optional(),
  /** Use the SSH agent at this socket (defaults to SSH_AUTH_SOCK when no identity file is given). */
  agent: z.string().optional(),
  knownHostsFile: absolutePathSchema.optional(),
  hostKeyPolicy: hostKeyPolicySchema.default('strict'),
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

/** A host is either an alias from the worker's configuration or a full specification. */
export const hostRefSchema = z.union([
  z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9_.@:-]+$/, 'not a valid host alias'),
  hostSpecSchema,
]);
export type HostRef = z.output<typeof hostRefSchema>;
export type HostRefInput = z.input<typeof hostRefSchema>;
