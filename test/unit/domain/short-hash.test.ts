import { describe, expect, it } from 'vitest';
import { operationTag } from '../../../src/domain/copied-file';
import { shortHash } from '../../../src/domain/short-hash';

describe('shortHash', () => {
  it('is FNV-1a over code points, as 8 hex digits', () => {
    expect(shortHash('')).toBe('811c9dc5');
    expect(shortHash('a')).toBe('e40c292c');
    expect(shortHash('clone:a:web01:b/run-1')).toBe(operationTag('clone:a:web01:b', 'run-1'));
    expect(shortHash('x😀')).not.toBe(shortHash('x'));
  });
});
