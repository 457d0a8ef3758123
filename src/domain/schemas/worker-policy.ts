import { z } from 'zod';
import { absolutePathSchema } from './host';

/**
 * Device kinds a domain may have only when the operator allows them: each reaches the
 * destination host's own resources (its PCI/USB devices, directories, block devices, or
 * qemu's command line). Anything else outside the clone's allowlist is refused too.
 * `serial-file` stands for every character device (serial, console, channel, parallel,
 * rng back end) whose back end is a host file, device, pipe, socket or network port;
 * serial and console files and `<log file>` are moved into the clone's own directory and
 * need no allowance.
 */
export const HOST_REACHING_DEVICES = [
  'hostdev',
  'filesystem',
  'qemu:commandline',
  'lun',
  'floppy',
  'smartcard',
  'redirdev',
  'interface-direct',
  'interface-ethernet',
  'interface-hostdev',
  'serial-file',
  'shmem',
] as const;
export type HostReachingDevice = (typeof HOST_REACHING_DEVICES)[number];

/** A URL prefix a webhook may start with, e.g. `https://hooks.example.com/kvm/`. */
const webhookPrefixSchema = z
  .string()
  .url('not a URL')
  .refine((url) => /^https?:\/\//i.test(url), 'only http and https webhooks are supported');

/**
 * What the worker lets a workflow input ask for, beyond naming configured hosts. Lives in
 * the worker's config only: a workflow input can never widen it.
 */
export const workerPolicySchema = z
  .object({
    /**
     * Take full host objects from workflow inputs (address, user, key, libvirt URI). Off by
     * default: whoever can start a workflow would choose what the worker connects to, with
     * the worker's keys. Only for a namespace that only the operator can reach.
     */
    inlineHosts: z.boolean().default(false),
    /**
     * Take host names that are not aliases, `[user@]host[:port]` or `ssh://…`, and resolve
     * them with the worker's own ~/.ssh/config, keys and known_hosts. Whoever can start a
     * workflow then reaches every host the worker's user can log in to. Unset means off,
     * except for the CLI's in-process worker, whose user is the one giving the names.
     */
    hostReferences: z.boolean().optional(),
    /** URL prefixes that ad-hoc webhooks (a URL in the workflow input) must start with. */
    webhookUrls: z.array(webhookPrefixSchema).default([]),
    /** Host-reaching device kinds that a cloned domain may keep (see HOST_REACHING_DEVICES). */
    allowDevices: z.array(z.enum(HOST_REACHING_DEVICES)).default([]),
    /**
     * Directories of files a domain may reference on the destination without them being
     * copied: kernels, initrds, firmware, CD-ROM media. The host's writable directories
     * count too.
     */
    hostFiles: z.array(absolutePathSchema).default(['/usr/share']),
  })
  .strict();

export type WorkerPolicy = z.output<typeof workerPolicySchema>;
export type WorkerPolicyInput = z.input<typeof workerPolicySchema>;

export const DEFAULT_WORKER_POLICY: WorkerPolicy = workerPolicySchema.parse({});
