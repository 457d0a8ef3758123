/**
 * FNV-1a, 32 bits, as 8 hex digits: a short stable name part, computed the same way in
 * workflow code, activities and tests. Not for anything that must resist collisions on purpose.
 */
export function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  // Per code point, first unit only: how operation tags were always computed, so names of running operations stay put.
  for (const char of text) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
