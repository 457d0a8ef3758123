import { z } from 'zod';

/**
 * libvirt's rules for domain names: not empty, no '/', and no control characters
 * (libvirt refuses newlines in names). Everything else, spaces and quotes included,
 * is legal, so every remote use of a name goes through the shell quoting helper.
 */
export const vmNameSchema = z
  .string()
  .min(1, 'VM name is empty')
  .max(200, 'VM name is longer than 200 characters')
  .refine((name) => !name.includes('/'), "VM name must not contain '/'")
  // eslint-disable-next-line no-control-regex
  .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), 'VM name must not contain control characters');
