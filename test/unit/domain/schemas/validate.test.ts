import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cloneInputSchema } from '../../../../src/domain/schemas/clone-input';
import { hostSpecSchema } from '../../../../src/domain/schemas/host';
import { validate } from '../../../../src/domain/schemas/validate';
import { vmNameSchema } from '../../../../src/domain/schemas/vm-name';
import { ErrorCode, KvmCloneError } from '../../../../src/errors';

const minimal = { source: 'kvm1', destination: 'kvm2', vmName: 'web' };

function validationError(input: unknown, schema: z.ZodType = cloneInputSchema, what = 'clone input'): KvmCloneError {
  try {
    validate(schema, input, what);
  } catch (error) {
    expect(error).toBeInstanceOf(KvmCloneError);
    return error as KvmCloneError;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('cloneInputSchema defaults', () => {
  it('fills in every default and leaves newName and destDir absent', () => {
    const options = validate(cloneInputSchema, minimal, 'clone input');
    expect(options).toEqual({
      ...minimal,
      force: false,
      dryRun: false,
      parallel: 4,
      compress: false,
      verify: true,
      preserveMac: false,
      keepUuid: false,
      timeout: 3600,
      start: false,
      networkMap: {},
      copyCdroms: false,
      excludeDisks: [],
      flattenBackingChain: false,
    });
    for (const absent of ['newName', 'destDir', 'destPool', 'bandwidthLimit']) expect(absent in options).toBe(false);
  });

  it('fills in the defaults of an inline host spec', () => {
    const options = validate(cloneInputSchema, { ...minimal, source: { address: '10.0.0.5' } }, 'clone input');
    expect(options.source).toEqual({
      address: '10.0.0.5',
      port: 22,
      user: 'root',
      hostKeyPolicy: 'strict',
      libvirtUri: 'qemu:///system',
      storageDir: '/var/lib/libvirt/images',
    });
  });

  it('keeps given values and accepts names libvirt accepts', () => {
    const input = {
      ...minimal,
      vmName: `web "prod" it's; $(x)`,
      newName: 'web copy',
      destDir: '/srv/vm images',
      parallel: 64,
      verify: false,
      preserveMac: true,
      start: true,
      timeout: 7 * 24 * 3600,
      destination: { address: '[fe80::1]', port: 2222, user: 'admin', hostKeyPolicy: 'accept-new' },
    };
    expect(validate(cloneInputSchema, input, 'clone input')).toMatchObject({
      ...input,
      destination: { ...input.destination, libvirtUri: 'qemu:///system' },
    });
  });
});

describe('validate error codes', () => {
  it.each([
    ['a host address with a space', { source: { address: 'bad host' } }, ErrorCode.INVALID_HOST, 'source.address'],
    ['an empty host address', { destination: { address: '' } }, ErrorCode.INVALID_HOST, 'destination.address'],
    ['a host alias with a shell character', { source: 'kvm1;reboot' }, ErrorCode.INVALID_HOST, 'source'],
    ['a vmName with a slash', { vmName: 'a/b' }, ErrorCode.INVALID_VM_NAME, 'vmName'],
    ['a vmName with a newline', { vmName: 'a\nb' }, ErrorCode.INVALID_VM_NAME, 'vmName'],
    ['an empty vmName', { vmName: '' }, ErrorCode.INVALID_VM_NAME, 'vmName'],
    ['a newName with a slash', { newName: '../x' }, ErrorCode.INVALID_VM_NAME, 'newName'],
    ['a relative destDir', { destDir: 'images' }, ErrorCode.INVALID_PATH, 'destDir'],
    ['a destDir with ..', { destDir: '/var/lib/../../etc' }, ErrorCode.INVALID_PATH, 'destDir'],
    [
      'a relative identityFile',
      { source: { address: 'kvm1', identityFile: 'id_ed25519' } },
      ErrorCode.INVALID_PATH,
      'source.identityFile',
    ],
    ['port 0', { source: { address: 'kvm1', port: 0 } }, ErrorCode.INVALID_PORT, 'source.port'],
    ['port 70000', { destination: { address: 'kvm2', port: 70000 } }, ErrorCode.INVALID_PORT, 'destination.port'],
    ['timeout 0', { timeout: 0 }, ErrorCode.INVALID_TIMEOUT, 'timeout'],
    ['a fractional timeout', { timeout: 1.5 }, ErrorCode.INVALID_TIMEOUT, 'timeout'],
    ['parallel 0', { parallel: 0 }, ErrorCode.VALIDATION_ERROR, 'parallel'],
    ['parallel 65', { parallel: 65 }, ErrorCode.VALIDATION_ERROR, 'parallel'],
    ['verify as a string', { verify: 'yes' }, ErrorCode.VALIDATION_ERROR, 'verify'],
    [
      'a bandwidth limit with an unknown unit',
      { bandwidthLimit: '10X' },
      ErrorCode.INVALID_BANDWIDTH,
      'bandwidthLimit',
    ],
    ['a zero bandwidth limit', { bandwidthLimit: 0 }, ErrorCode.INVALID_BANDWIDTH, 'bandwidthLimit'],
    [
      'a network map to a name with a space',
      { networkMap: { default: 'lan name' } },
      ErrorCode.VALIDATION_ERROR,
      'networkMap.default',
    ],
    [
      'a network map from a name ending in name',
      { networkMap: { 'bad name': 'lan' } },
      ErrorCode.VALIDATION_ERROR,
      'networkMap.bad name',
    ],
    ['an excluded disk that is no target', { excludeDisks: ['../vda'] }, ErrorCode.VALIDATION_ERROR, 'excludeDisks.0'],
    ['destDir and destPool together', { destDir: '/srv', destPool: 'images' }, ErrorCode.VALIDATION_ERROR, 'destPool'],
  ])('rejects %s with its code and names the field', (_what, change, code, field) => {
    const error = validationError({ ...minimal, ...change });
    expect(error.code).toBe(code);
    expect(error.message).toMatch(new RegExp(`^invalid clone input: ${field.replace('.', '\\.')}: `));
    expect(error.details.field).toBe(field);
  });

  it('uses the problem message of the schema', () => {
    expect(validationError({ ...minimal, vmName: 'a/b' }).message).toBe(
      "invalid clone input: vmName: VM name must not contain '/'",
    );
    expect(validationError({ ...minimal, destDir: 'x' }).message).toBe(
      'invalid clone input: destDir: must be an absolute path',
    );
    expect(validationError({ ...minimal, destDir: '/a/..' }).message).toBe(
      "invalid clone input: destDir: must not contain '..'",
    );
  });

  it('lists every issue in the details', () => {
    const error = validationError({ ...minimal, vmName: 'a/b', timeout: 0, parallel: 0 });
    const issues = error.details.issues as { path: string[] }[];
    expect(issues.map((issue) => issue.path.join('.')).sort()).toEqual(['parallel', 'timeout', 'vmName']);
  });

  it('names the whole value when it is not an object at all', () => {
    const error = validationError(null);
    expect(error.code).toBe(ErrorCode.VALIDATION_ERROR);
    expect(error.message).toMatch(/^invalid clone input: clone input: /);
  });

  it('names a missing required field', () => {
    const { vmName: _missing, ...rest } = minimal;
    const error = validationError(rest);
    expect(error.code).toBe(ErrorCode.INVALID_VM_NAME);
    expect(error.details.field).toBe('vmName');
  });

  it('works for other schemas and their description', () => {
    const error = validationError({ address: 'kvm1', port: -1 }, hostSpecSchema, "host 'kvm1'");
    expect(error.code).toBe(ErrorCode.INVALID_PORT);
    expect(error.message).toMatch(/^invalid host 'kvm1': port: /);
    expect(validate(vmNameSchema, 'ok name', 'name')).toBe('ok name');
    expect(validationError('x'.repeat(201), vmNameSchema, 'name').message).toBe(
      'invalid name: name: VM name is longer than 200 bytes in UTF-8',
    );
  });

  it('produces non-retryable errors', () => {
    expect(validationError({ ...minimal, parallel: 0 }).retryable).toBe(false);
    expect(validationError({ ...minimal, source: { address: 'bad host' } }).retryable).toBe(false);
  });
});
