import { z } from 'zod';
import { absolutePathSchema, hostAddressSchema, hostKeyPolicySchema } from './host';

/**
 * OpenSSH splits UserKnownHostsFile at whitespace, parses quotes, and expands `%` tokens
 * and `${VAR}` in file options, so a path holding them would name a different file.
 */
const opensshPathSchema = absolutePathSchema.refine(
  (path) => !/[\s%$"'\\]/.test(path),
  'OpenSSH cannot take this path in an option: no whitespace, %, $, quotes or backslashes',
);

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
  })
  .strict();

export type DirectRoute = z.output<typeof directRouteSchema>;
export type DirectRouteInput = z.input<typeof directRouteSchema>;
