import { describe, expect, it } from 'vitest';
import { migrateCommand } from '../../../src/cli/commands/migrate';
import { migrateInputFromFlags } from '../../../src/cli/migrate-flags';
import { migrateOptions } from '../../../src/cli/operation-options';
import { migrateInputSchema } from '../../../src/domain/schemas/migrate-input';
import { ErrorCode } from '../../../src/errors';

const subject = { source: 'a', destination: 'b', vmName: 'web01' };

describe('migrateInputFromFlags', () => {
  it('maps every flag to its workflow input field', () => {
    const input = migrateInputFromFlags(subject, {
      newName: 'web01-moved',
      destDir: '/srv/vms',
      maxDowntime: '2.5',
      maxPasses: '12',
      cutoverAt: '2026-12-24T02:00:00Z',
      hold: true,
      syncInterval: '30',
      keepSource: true,
      parallel: '8',
      compress: true,
      verify: false,
      bandwidthLimit: '10M',
      timeout: '172800',
    });
    expect(input).toEqual({
      ...subject,
      newName: 'web01-moved',
      destDir: '/srv/vms',
      maxDowntime: 2.5,
      maxPasses: 12,
      cutoverAt: '2026-12-24T02:00:00Z',
      holdCutover: true,
      syncInterval: 30,
      keepSource: true,
      parallel: 8,
      compress: true,
      verify: false,
      bandwidthLimit: '10M',
      timeout: 172800,
    });
    expect(migrateInputSchema.safeParse(input).success).toBe(true);
  });

  it("leaves absent flags out, so the workflow's defaults apply", () => {
    expect(migrateInputFromFlags(subject, {})).toEqual(subject);
    expect(migrateInputSchema.parse(migrateInputFromFlags(subject, {}))).toMatchObject({
      maxDowntime: 10,
      maxPasses: 8,
      holdCutover: false,
      syncInterval: 60,
      keepSource: false,
      timeout: 86400,
    });
  });

  it('takes a cutover time with a zone, Z or an offset', () => {
    expect(migrateInputFromFlags(subject, { cutoverAt: '2026-12-24T03:00:00+01:00' }).cutoverAt).toBe(
      '2026-12-24T03:00:00+01:00',
    );
  });

  it.each(['2026-12-24T02:00:00', '2026-12-24', 'tomorrow 2am', ''])(
    "refuses --cutover-at '%s', which names no instant, with 1007 naming the flag",
    (cutoverAt) => {
      expect(() => migrateInputFromFlags(subject, { cutoverAt })).toThrow(
        expect.objectContaining({
          code: ErrorCode.VALIDATION_ERROR,
          message: expect.stringContaining(`--cutover-at: '${cutoverAt}' is not an ISO 8601 time with a zone`),
        }),
      );
    },
  );

  it.each(['10s', 'ten', '', ' ', 'Infinity'])(
    "refuses --max-downtime '%s' with 1007 naming the flag",
    (maxDowntime) => {
      expect(() => migrateInputFromFlags(subject, { maxDowntime })).toThrow(
        expect.objectContaining({
          code: ErrorCode.VALIDATION_ERROR,
          message: `--max-downtime: '${maxDowntime}' is not a number of seconds`,
        }),
      );
    },
  );

  it('refuses --max-passes and --sync-interval that are not whole numbers with 1007, and --timeout with 1304', () => {
    expect(() => migrateInputFromFlags(subject, { maxPasses: '2.5' })).toThrow(
      expect.objectContaining({ code: ErrorCode.VALIDATION_ERROR, message: expect.stringContaining('--max-passes') }),
    );
    expect(() => migrateInputFromFlags(subject, { syncInterval: '1m' })).toThrow(
      expect.objectContaining({
        code: ErrorCode.VALIDATION_ERROR,
        message: expect.stringContaining('--sync-interval'),
      }),
    );
    expect(() => migrateInputFromFlags(subject, { timeout: '1d' })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_TIMEOUT }),
    );
  });
});

describe('the migrate command', () => {
  it('takes SOURCE DEST VM, its own options, --detach and the ssh flags, like clone and sync', () => {
    const declared = migrateCommand();
    expect(declared.name()).toBe('migrate');
    expect(declared.registeredArguments.map((argument) => argument.name())).toEqual(['source', 'dest', 'vm']);
    expect(declared.options.map((option) => option.long)).toEqual([
      ...migrateOptions().map((option) => option.long),
      '--detach',
      '--ssh-key',
      '--ssh-port',
    ]);
  });

  it('has no --preserve-mac, which the strict migrate input would refuse: a migration always keeps the MACs', () => {
    const longs = migrateOptions().map((option) => option.long);
    expect(longs).not.toContain('--preserve-mac');
    expect(longs).toEqual(
      expect.arrayContaining([
        '--max-downtime',
        '--max-passes',
        '--cutover-at',
        '--hold',
        '--sync-interval',
        '--keep-source',
      ]),
    );
  });

  it('makes an input the workflow takes from every one of its options', () => {
    // The action would start a migration: only what commander parsed is wanted here.
    const declared = migrateCommand().action(() => undefined);
    const values: Record<string, string> = {
      '--new-name': 'web01-moved',
      '--dest-dir': '/srv/vms',
      '--mode': 'live',
      '--max-downtime': '5',
      '--max-passes': '4',
      '--cutover-at': '2026-12-24T02:00:00Z',
      '--sync-interval': '120',
      '--parallel': '2',
      '--bandwidth-limit': '50M',
      '--timeout': '7200',
    };
    // --relay and --notify go to routeAndNotify, not into the command's own input.
    const own = migrateOptions().filter((option) => !['--relay', '--notify'].includes(option.long!));
    declared.parse(
      [
        'a',
        'b',
        'web01',
        ...own.flatMap((option) => (option.required ? [option.long!, values[option.long!]!] : [option.long!])),
      ],
      { from: 'user' },
    );
    const input = migrateInputFromFlags(subject, declared.opts());
    expect(migrateInputSchema.safeParse(input).error).toBeUndefined();
    expect(input).toMatchObject({
      mode: 'live',
      holdCutover: true,
      keepSource: true,
      compress: true,
      maxDowntime: 5,
    });
  });
});
