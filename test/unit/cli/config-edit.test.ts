import { describe, expect, it } from 'vitest';
import { parseConfigText, validateConfigDocument } from '../../../src/cli/config';
import {
  configValueAt,
  initialConfigText,
  parseConfigValue,
  parseKeyPath,
  redactedConfig,
  setConfigValue,
  unsetConfigValue,
} from '../../../src/cli/config-edit';
import { ErrorCode } from '../../../src/errors';

const text = `# my hosts
hosts:
  a:
    address: 10.0.0.1 # the first one
temporal:
  namespace: default
`;

describe('parseKeyPath', () => {
  it('splits dotted keys and keeps quoted segments whole', () => {
    expect(parseKeyPath('temporal.address')).toEqual(['temporal', 'address']);
    expect(parseKeyPath('hosts."db.example".port')).toEqual(['hosts', 'db.example', 'port']);
  });

  it('rejects empty segments', () => {
    for (const key of ['', 'a..b', 'a.', '.a'])
      expect(() => parseKeyPath(key)).toThrow(expect.objectContaining({ code: ErrorCode.CONFIGURATION_ERROR }));
  });
});

describe('parseConfigValue', () => {
  it('reads values as YAML unless asked for text', () => {
    expect(parseConfigValue('2222')).toBe(2222);
    expect(parseConfigValue('true')).toBe(true);
    expect(parseConfigValue('{lan: br0}')).toEqual({ lan: 'br0' });
    expect(parseConfigValue('temporal:7233')).toBe('temporal:7233');
    expect(parseConfigValue('0123', true)).toBe('0123');
  });
});

describe('setConfigValue / unsetConfigValue', () => {
  it('edits one key and keeps every comment', () => {
    const edited = setConfigValue(parseConfigText(text, 'c.yaml'), 'hosts.a.port', 2222);
    expect(edited.text).toContain('# my hosts');
    expect(edited.text).toContain('address: 10.0.0.1 # the first one');
    expect(edited.config.hosts.a?.port).toBe(2222);
  });

  it('creates sections as needed, as block mappings in the template', () => {
    const edited = setConfigValue(parseConfigText(initialConfigText(), 'c.yaml'), 'hosts.b.address', '10.0.0.2');
    expect(edited.text).toMatch(/^hosts:\n {2}b:\n {4}address: 10\.0\.0\.2$/m);
    expect(edited.text).toContain('# KVM hosts by alias');
  });

  it('refuses an edit that makes the config invalid, naming the key and line', () => {
    expect(() => setConfigValue(parseConfigText(text, 'c.yaml'), 'hosts.a.port', 99999)).toThrow(
      /^c\.yaml:5: hosts\.a\.port: /,
    );
    expect(() => setConfigValue(parseConfigText(text, 'c.yaml'), 'temporal.adress', 'x:1')).toThrow(
      expect.objectContaining({
        code: ErrorCode.CONFIGURATION_ERROR,
        message: expect.stringMatching(/c\.yaml:7: temporal\.adress: /),
      }),
    );
  });

  it('refuses to set below a plain value', () => {
    expect(() => setConfigValue(parseConfigText(text, 'c.yaml'), 'hosts.a.address.x', 1)).toThrow(
      /is a value, not a section/,
    );
  });

  it('removes a key, and calls removing an absent key an error', () => {
    const edited = unsetConfigValue(parseConfigText(text, 'c.yaml'), 'temporal.namespace');
    expect(edited.text).not.toContain('namespace');
    expect(() => unsetConfigValue(parseConfigText(text, 'c.yaml'), 'temporal.address')).toThrow(
      /temporal\.address is not set/,
    );
  });
});

describe('the config schema', () => {
  it('takes sync defaults, direct routes per destination and global webhooks; refuses a sync default that is per command', () => {
    const config = validateConfigDocument(
      parseConfigText(
        'hosts:\n  a:\n    address: 10.0.0.1\n    direct:\n      b: { address: 10.1.0.2, identityFile: /root/.ssh/id_ed25519 }\ndefaults:\n  sync:\n    deltaOnly: false\n    bandwidthLimit: 10M\nnotifications:\n  webhooks:\n    - url: https://hooks.example/x\n      secretEnv: HOOK_SECRET\n',
        'c.yaml',
      ),
    );
    expect(config.hosts.a?.direct).toEqual({ b: { address: '10.1.0.2', identityFile: '/root/.ssh/id_ed25519' } });
    expect(config.defaults.sync).toEqual({ deltaOnly: false, bandwidthLimit: 10 * 1024 * 1024 });
    // The older form, a webhook written in place: kept, and named notifications-1 for inputs.
    expect(config.notifications.webhooks).toEqual([
      {
        url: 'https://hooks.example/x',
        secretEnv: 'HOOK_SECRET',
        events: ['success', 'failure', 'cancelled'],
        format: 'json',
      },
    ]);
    expect(() => validateConfigDocument(parseConfigText('defaults:\n  sync:\n    targetName: x\n', 'c.yaml'))).toThrow(
      /c\.yaml:3: defaults\.sync\.targetName: Unrecognized key/,
    );
    expect(() => validateConfigDocument(parseConfigText('defaults:\n  sync:\n    parallel: 0\n', 'c.yaml'))).toThrow(
      /defaults\.sync\.parallel/,
    );
  });

  it('accepts the init template', () => {
    expect(validateConfigDocument(parseConfigText(initialConfigText(), 'c.yaml'))).toEqual({
      hosts: {},
      temporal: { namespace: 'default' },
      defaults: { clone: {}, sync: {} },
      webhooks: {},
      notifications: { webhooks: [] },
    });
  });

  it("documents real host keys: the init template's commented host, uncommented, is a valid host", () => {
    const lines = initialConfigText().split('\n');
    const start = lines.indexOf('hosts: {}') + 1;
    const end = lines.indexOf('', start);
    const example = ['hosts:', ...lines.slice(start, end).map((line) => line.slice(1))].join('\n');
    const config = validateConfigDocument(parseConfigText(example, 'c.yaml'));
    expect(config.hosts?.['prod-a']).toMatchObject({
      address: '10.0.0.11',
      user: 'root',
      become: 'sudo',
      jump: { address: 'bastion.example.net', user: 'ops' },
    });
  });

  it("takes the worker's policy, named webhooks listed by name in notifications, and hosts' writable dirs and pools", () => {
    const config = validateConfigDocument(
      parseConfigText(
        [
          'hosts:',
          '  b:',
          '    address: 10.0.0.2',
          '    writableDirs: [/srv/vms, /var/lib/libvirt/images]',
          '    storagePools: [fast]',
          'policy:',
          '  webhookUrls: [https://hooks.example/kvm/]',
          '  hostFiles: [/usr/share, /srv/iso]',
          'webhooks:',
          '  ops: { url: https://hooks.slack.com/services/T0/B0/SECRET, format: slack }',
          '  audit: { url: https://audit.example/k, secretEnv: AUDIT_SECRET, events: [failure] }',
          'notifications:',
          '  webhooks: [ops, audit]',
          '',
        ].join('\n'),
        'c.yaml',
      ),
    );
    expect(config.hosts.b).toMatchObject({
      writableDirs: ['/srv/vms', '/var/lib/libvirt/images'],
      storagePools: ['fast'],
    });
    expect(config.policy).toEqual({
      inlineHosts: false,
      webhookUrls: ['https://hooks.example/kvm/'],
      allowDevices: [],
      hostFiles: ['/usr/share', '/srv/iso'],
    });
    expect(config.webhooks.audit).toEqual({
      url: 'https://audit.example/k',
      secretEnv: 'AUDIT_SECRET',
      events: ['failure'],
      format: 'json',
    });
    expect(config.notifications.webhooks).toEqual(['ops', 'audit']);
    // config show: no webhook URL (a Slack URL is a secret) nor secret on a shared terminal.
    const shown = JSON.stringify(redactedConfig(config));
    expect(shown).not.toContain('/T0/B0/SECRET');
    expect(redactedConfig(config).webhooks.ops!.url).toBe('https://hooks.slack.com/…');
  });

  it('refuses with 1001 and the line: an unknown webhook name, a name taken by a webhook written in place, bad policy keys and pools', () => {
    const problem = (text: string) => {
      try {
        validateConfigDocument(parseConfigText(text, 'c.yaml'));
      } catch (error) {
        expect(error).toMatchObject({ code: ErrorCode.CONFIGURATION_ERROR });
        return (error as Error).message;
      }
      throw new Error('expected a configuration error');
    };
    expect(problem('webhooks: {}\nnotifications:\n  webhooks:\n    - ops\n')).toBe(
      "c.yaml:4: notifications.webhooks.0: no webhook 'ops' under webhooks:",
    );
    expect(
      problem(
        'webhooks:\n  notifications-1: { url: https://a.example/x }\nnotifications:\n  webhooks:\n    - { url: https://b.example/y }\n',
      ),
    ).toMatch(/^c\.yaml:5: notifications\.webhooks\.0: this webhook is named notifications-1 by its place/);
    expect(problem('notifications:\n  webhooks:\n    - url: https://b.example/y\n      secrt: x\n')).toMatch(
      /^c\.yaml:4: notifications\.webhooks\.0\.secrt: Unrecognized key/,
    );
    expect(problem('policy:\n  inlinehosts: true\n')).toMatch(/^c\.yaml:2: policy\.inlinehosts: Unrecognized key/);
    expect(problem('policy:\n  webhookUrls: [ftp://x.example/]\n')).toMatch(
      /^c\.yaml:2: policy\.webhookUrls\.0: only http and https/,
    );
    expect(problem('webhooks:\n  ops: { url: https://a.example/x, secret: a, secretEnv: B }\n')).toMatch(
      /webhooks\.ops\.secretEnv: give secret or secretEnv, not both/,
    );
    expect(problem('hosts:\n  b:\n    address: 10.0.0.2\n    writableDirs: [relative/dir]\n')).toMatch(
      /^c\.yaml:4: hosts\.b\.writableDirs\.0: must be an absolute path/,
    );
  });

  it('takes clone defaults, TLS and an API key, and keeps absent defaults absent', () => {
    const config = validateConfigDocument(
      parseConfigText(
        'temporal:\n  address: t:7233\n  tls: { caFile: /ca.pem, serverName: t }\n  apiKey: k\ndefaults:\n  clone:\n    parallel: 8\n    bandwidthLimit: 100M\n',
        'c.yaml',
      ),
    );
    expect(config.defaults.clone).toEqual({ parallel: 8, bandwidthLimit: 100 * 1024 * 1024 });
    expect(config.temporal.tls).toEqual({ caFile: '/ca.pem', serverName: 't' });
    expect(redactedConfig(config).temporal.apiKey).toBe('(set)');
    expect(configValueAt(config, 'temporal.address')).toBe('t:7233');
    expect(() => configValueAt(config, 'temporal.nothing')).toThrow(/not set/);
  });

  it('names the line of an unknown key, a bad default, and half an mTLS pair', () => {
    expect(() => validateConfigDocument(parseConfigText('defaults:\n  clone:\n    paralel: 2\n', 'c.yaml'))).toThrow(
      /^c\.yaml:3: defaults\.clone\.paralel: /,
    );
    expect(() => validateConfigDocument(parseConfigText('defaults:\n  clone:\n    timeout: 0\n', 'c.yaml'))).toThrow(
      /^c\.yaml:3: defaults\.clone\.timeout: /,
    );
    expect(() =>
      validateConfigDocument(parseConfigText('temporal:\n  tls:\n    certFile: /c.pem\n', 'c.yaml')),
    ).toThrow(/c\.yaml:\d: temporal\.tls(\.keyFile)?: /);
  });
});
