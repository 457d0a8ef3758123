import { z } from 'zod';
import { absolutePathSchema, hostAddressSchema, hostKeyPolicySchema, parseHostReference } from './host';

/**
 * OpenSSH splits UserKnownHostsFile at whitespace, parses quotes, and expands `%` tokens
 * and `${VAR}` in file options, so a path holding them would name a different file.
 */
const opensshPathSchema = absolutePathSchema.refine(
  (path) => !/[\s%$"'\\]/.test(path),
  'OpenSSH cannot take this path in an option: no whitespace, %, $, quotes or backslashes',
);

/**
 * OpenSSH's ProxyJump as `ssh -J` takes it: `[user@]host[:port]` hops, comma-separated,
 * or `ssh://` ones. Each hop is a plain name, so it cannot start an option or carry a
 * command.
 */
const proxyJumpSchema = z
  .string()
  .min(1)
  .max(1024)
  .superRefine((value, context) => {
    for (const hop of value.split(',')) {
      const parsed = parseHostReference(hop);
      if ('error' in parsed) context.addIssue({ code: 'custom', message: `jump host '${hop}': ${parsed.error}` });
    }
  });

/**
 * How the SOURCE host reaches the destination host over its own OpenSSH, for direct mode.
 * Configured on the worker only (`hosts.<source>.direct.<destination>`); a workflow input
 * only asks for direct mode with `direct: true`.
 * Every path is on the source host, not on the worker: the source's `ssh` reads them.
 * Left out, address, port and user are the destination's own, as the worker reaches it.
 */
export const directRouteSchema = z
  .object({
    /** The destination as the source sees it, e.g. an address on a storage network. */
    address: hostAddressSchema.optional(),
    port: z.number().int().min(1).max(65535).optional(),
    user: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/, 'not a valid user name')
      .optional(),
    /** Private key on the source host; without it, ssh uses the source user's default keys. */
    identityFile: opensshPathSchema.optional(),
    /** known_hosts file on the source host; without it, the source user's ~/.ssh/known_hosts. */
    knownHostsFile: opensshPathSchema.optional(),
    /** As for the worker's own connections: no policy accepts a changed key. */
    hostKeyPolicy: hostKeyPolicySchema.optional(),
    /**
     * Jump hosts between the source and the destination (`ssh -J`), as the source sees
     * them. The source's ssh reaches them with its own user's ssh_config, keys and
     * known_hosts: none of the options above reach the jump connection.
     */
    proxyJump: proxyJumpSchema.optional(),
  })
  .strict();

export type DirectRoute = z.output<typeof directRouteSchema>;
export type DirectRouteInput = z.input<typeof directRouteSchema>;

/** A DirectRoute with the destination's own address, port and user filled in. */
export interface ResolvedRoute {
  address: string;
  port: number;
  user: string;
  identityFile?: string;
  knownHostsFile?: string;
  hostKeyPolicy: 'strict' | 'accept-new';
  proxyJump?: string;
}
