/**
 * Whether ssh2 loaded its native crypto binding. Without it ssh2 silently falls back to
 * pure-JS ciphers and a relay runs about 4× slower, so the worker warns at start-up.
 */
export function sshCryptoBindingLoaded(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return Boolean((require('ssh2/lib/protocol/crypto.js') as { bindingAvailable?: boolean }).bindingAvailable);
  } catch {
    return false;
  }
}
