import { describe, expect, it } from 'vitest';
import { cloneInputSchema } from '../../../../src/domain/schemas/clone-input';
import { syncInputSchema } from '../../../../src/domain/schemas/sync-input';
import { validate } from '../../../../src/domain/schemas/validate';
import { utf8ByteLength, VM_NAME_MAX_BYTES, vmNameSchema } from '../../../../src/domain/schemas/vm-name';
import { ErrorCode, KvmCloneError } from '../../../../src/errors';

const minimal = { source: 'kvm1', destination: 'kvm2', vmName: 'web' };

function nameError(
  input: Record<string, unknown>,
  schema: typeof cloneInputSchema | typeof syncInputSchema = cloneInputSchema,
): KvmCloneError {
  try {
    validate(schema, { ...minimal, ...input }, 'input');
  } catch (error) {
    expect(error).toBeInstanceOf(KvmCloneError);
    return error as KvmCloneError;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('utf8ByteLength', () => {
  it('counts UTF-8 bytes, surrogate pairs as one 4-byte character', () => {
    expect(utf8ByteLength('web01')).toBe(5);
    expect(utf8ByteLength('é')).toBe(2);
    expect(utf8ByteLength('€')).toBe(3);
    expect(utf8ByteLength('😀')).toBe(4);
    for (const text of ['', 'a€😀é', '日本語のVM名'])
      expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text, 'utf8'));
  });
});

describe('vmNameSchema', () => {
  it.each([
    ['U+2028 LINE SEPARATOR', 'web\u2028INFO forged log line', 'U+2028'],
    ['U+2029 PARAGRAPH SEPARATOR', 'web\u2029x', 'U+2029'],
    ['U+0085 NEXT LINE', 'web\u0085x', 'U+0085'],
    ['a C1 control', 'web\u009bx', 'U+009B'],
    ['DEL', 'web\u007fx', 'U+007F'],
    ['a newline', 'web\nx', 'U+000A'],
    ['a lone surrogate', 'web\ud800', 'U+D800'],
  ])('attack: a name with %s is refused with 1301', (_what, name, codePoint) => {
    for (const field of ['vmName', 'newName']) {
      const error = nameError({ [field]: name });
      expect(error.code).toBe(ErrorCode.INVALID_VM_NAME);
      expect(error.message).toBe(
        `invalid input: ${field}: VM name must not contain control characters or line separators (${codePoint})`,
      );
    }
    expect(nameError({ targetName: name }, syncInputSchema).code).toBe(ErrorCode.INVALID_VM_NAME);
  });

  it('attack: 250 multibyte characters, or 100 three-byte ones (under the old 200-character limit), are refused with 1301', () => {
    for (const name of ['é'.repeat(250), '€'.repeat(100)]) {
      for (const field of ['vmName', 'newName']) {
        const error = nameError({ [field]: name });
        expect(error.code).toBe(ErrorCode.INVALID_VM_NAME);
        expect(error.message).toBe(`invalid input: ${field}: VM name is longer than 200 bytes in UTF-8`);
      }
      expect(nameError({ targetName: name }, syncInputSchema).code).toBe(ErrorCode.INVALID_VM_NAME);
    }
  });

  it('accepts a name of exactly the limit in bytes, and what libvirt accepts', () => {
    expect(vmNameSchema.safeParse('€'.repeat(66) + 'ab').success).toBe(true);
    expect(utf8ByteLength('€'.repeat(66) + 'ab')).toBe(VM_NAME_MAX_BYTES);
    expect(vmNameSchema.safeParse('😀'.repeat(50)).success).toBe(true);
    for (const name of ['web01', `web "prod" it's; $(x)`, 'Ünïcödé VM 日本', 'a\u00a0b', 'x'.repeat(200)])
      expect(vmNameSchema.safeParse(name).success).toBe(true);
    expect(vmNameSchema.safeParse('x'.repeat(201)).success).toBe(false);
  });
});
