import { z } from 'zod';

/**
 * Longest name, in UTF-8 bytes. libvirt sets no limit of its own but keeps `<name>.xml`
 * (and `<name>.log`, `<name>_VARS.fd`) as files, so a name must fit a file name (255
 * bytes on Linux) with room for a suffix; kvm-clone's own file names add up to ~50 bytes
 * (`<name>-vdb-backing2.qcow2.kvm-clone-<tag>.part`). Bytes, not characters: 100 CJK
 * characters are 300 bytes.
 */
export const VM_NAME_MAX_BYTES = 200;

/** Length of `text` in UTF-8, without Buffer or TextEncoder (workflow code uses this too). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/**
 * Characters no name may hold: control characters C0, DEL and C1 (U+0085 NEXT LINE among
 * them), the line and paragraph separators U+2028/U+2029, and lone surrogates (no valid
 * UTF-8). libvirt itself refuses only '\n'; the others end lines too in some readers
 * (logs, JSON-to-JS, terminals), so a name could forge a line in what shows it.
 */
const forbiddenCharacters = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}]/u;

/** How a forbidden character is named in the error: U+2028, as its code point. */
function describeCodePoint(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * libvirt's rules for domain names: not empty, no '/', and no character that ends a line
 * (see forbiddenCharacters). Everything else, spaces and quotes included, is legal, so
 * every remote use of a name goes through the shell quoting helper.
 */
export const vmNameSchema = z
  .string()
  .min(1, 'VM name is empty')
  .refine((name) => utf8ByteLength(name) <= VM_NAME_MAX_BYTES, {
    message: `VM name is longer than ${VM_NAME_MAX_BYTES} bytes in UTF-8`,
    abort: true,
  })
  .refine((name) => !name.includes('/'), "VM name must not contain '/'")
  .superRefine((name, context) => {
    const found = forbiddenCharacters.exec(name);
    if (found)
      context.addIssue({
        code: 'custom',
        message: `VM name must not contain control characters or line separators (${describeCodePoint(found[0])})`,
      });
  });
