import { describe, expect, it } from 'vitest';
import { cloneCommand } from '../../../src/cli/commands/clone';
import { syncCommand } from '../../../src/cli/commands/sync';
import { operationInputFromFlags, routeAndNotify } from '../../../src/cli/operation-input';
import { cloneOptions, syncOptions } from '../../../src/cli/operation-options';
import type { SyncInput } from '../../../src/domain/schemas/sync-input';
import { ErrorCode } from '../../../src/errors';

const subject = { source: 'a', destination: 'b', vmName: 'web01' };

describe.each([
  ['clone', cloneCommand, cloneOptions, 'clone VM from host SOURCE to host DEST'],
  ['sync', syncCommand, syncOptions, 'bring the copy of VM on host DEST up to date'],
] as const)('the %s command', (name, command, options, description) => {
  it('takes SOURCE DEST VM, its own options, --detach and the ssh flags of its own worker, in that order', () => {
    const declared = command();
    expect(declared.name()).toBe(name);
    expect(declared.description()).toContain(description);
    expect(declared.registeredArguments.map((argument) => [argument.name(), argument.required])).toEqual([
      ['source', true],
      ['dest', true],
      ['vm', true],
    ]);
    expect(declared.options.map((option) => option.long)).toEqual([
      ...options().map((option) => option.long),
      '--detach',
      '--ssh-key',
      '--ssh-port',
    ]);
    expect(declared.helpInformation()).toContain(`Usage: ${name} [options] <source> <dest> <vm>`);
  });
});

describe('operationInputFromFlags', () => {
  it('puts given flags over the defaults, leaves absent ones out, and reads the data-path flags', () => {
    const input = operationInputFromFlags<SyncInput>(
      subject,
      { parallel: 8, deltaOnly: false, checkpoint: true },
      { targetName: 'standby', deltaOnly: undefined, checkpoint: false },
      { parallel: '2', timeout: '60' },
    );
    expect(input).toEqual({
      ...subject,
      targetName: 'standby',
      parallel: 2,
      deltaOnly: false,
      checkpoint: false,
      timeout: 60,
    });
  });

  it('keeps the subject over a default of the same name', () => {
    expect(operationInputFromFlags<SyncInput>(subject, { vmName: 'other' }, {}, {})).toEqual(subject);
  });

  it('refuses a data-path flag that is not a whole number', () => {
    expect(() => operationInputFromFlags<SyncInput>(subject, {}, {}, { parallel: 'x' })).toThrow(
      expect.objectContaining({ code: ErrorCode.VALIDATION_ERROR }),
    );
  });
});

describe('routeAndNotify', () => {
  const config = {
    hosts: { a: { address: '10.0.0.1', direct: { b: { address: '10.1.0.2' } } }, b: { address: '10.0.0.2' } },
    notifications: { webhooks: ['ops'] },
  } as unknown as Parameters<typeof routeAndNotify>[0];

  it('asks for direct mode where the config has a route, and names the webhooks', () => {
    expect(routeAndNotify(config, subject, { notify: ['http://127.0.0.1:9/x'] })).toEqual({
      direct: true,
      notify: { webhooks: [{ name: 'ops' }, { url: 'http://127.0.0.1:9/x' }] },
    });
  });

  it('adds nothing with --relay and no webhooks', () => {
    const quiet = { ...config, notifications: { webhooks: [] } } as typeof config;
    expect(routeAndNotify(quiet, subject, { relay: true })).toEqual({});
  });
});
