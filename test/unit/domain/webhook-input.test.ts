import { describe, expect, it } from 'vitest';
import { notifySchema } from '../../../src/domain/schemas/notify';
import { cloneInputSchema } from '../../../src/domain/schemas/clone-input';
import { validate } from '../../../src/domain/schemas/validate';
import { webhookLabel, webhookOrigin, webhookUrlAllowed, withoutUrl } from '../../../src/domain/webhook-target';
import { ErrorCode } from '../../../src/errors';

function entryProblem(webhook: unknown): string {
  const result = notifySchema.safeParse({ webhooks: [webhook] });
  expect(result.success).toBe(false);
  return result.error!.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('\n');
}

describe('webhooks in a workflow input', () => {
  it('takes a webhook configured on the worker by name, or an ad-hoc URL with events and format', () => {
    expect(
      notifySchema.parse({
        webhooks: [{ name: 'ops' }, { url: 'https://h.example/x', events: ['failure'], format: 'slack' }],
      }).webhooks,
    ).toEqual([{ name: 'ops' }, { url: 'https://h.example/x', events: ['failure'], format: 'slack' }]);
  });

  it('attack: refuses a secret in the input, saying to configure a named webhook on the worker', () => {
    expect(entryProblem({ url: 'https://h.example/x', secret: 'kept-in-history' })).toMatch(
      /^webhooks\.0\.secret: .*configure a named webhook on the worker/,
    );
    expect(entryProblem({ name: 'ops', secret: 'x' })).toMatch(/secret: .*configure a named webhook/);
  });

  it("attack: refuses secretEnv in the input, so no input can name the worker's KVM_CLONE_TEMPORAL_API_KEY", () => {
    expect(entryProblem({ url: 'https://h.example/x', secretEnv: 'KVM_CLONE_TEMPORAL_API_KEY' })).toMatch(
      /^webhooks\.0\.secretEnv: .*configure a named webhook/,
    );
    expect(entryProblem({ name: 'ops', secretEnv: 'KVM_CLONE_TEMPORAL_API_KEY' })).toMatch(
      /secretEnv: .*configure a named webhook/,
    );
  });

  it('refuses name and url together, neither, a named webhook with its own events, unknown keys and bad names', () => {
    expect(entryProblem({ name: 'ops', url: 'https://h.example/x' })).toMatch(/not both/);
    expect(entryProblem({})).toMatch(/give name .* or url/);
    expect(entryProblem({ name: 'ops', events: ['failure'] })).toMatch(/worker's config/);
    expect(entryProblem({ url: 'https://h.example/x', header: 'x' })).toMatch(/Unrecognized key/);
    expect(entryProblem({ name: '../ops' })).toMatch(/not a webhook name/);
    expect(entryProblem({ url: 'file:///etc/passwd' })).toMatch(/only http and https/);
  });
});

describe('direct in a workflow input', () => {
  const subject = { source: 'a', destination: 'b', vmName: 'web01' };

  it('is a yes or no', () => {
    expect(cloneInputSchema.parse({ ...subject, direct: true }).direct).toBe(true);
    expect(cloneInputSchema.parse(subject).direct).toBeUndefined();
  });

  it("attack: a route object (pointing the source's SSH at an address) is refused, saying where routes are configured", () => {
    let thrown: unknown;
    try {
      validate(
        cloneInputSchema,
        { ...subject, direct: { address: '10.66.6.6', user: 'root', identityFile: '/root/.ssh/id_ed25519' } },
        'cloneVM input',
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({
      code: ErrorCode.VALIDATION_ERROR,
      message: expect.stringContaining('direct: direct is true or false'),
    });
    expect((thrown as Error).message).toContain('hosts.<source>.direct.<destination>');
    expect(cloneInputSchema.safeParse({ ...subject, direct: 'yes' }).success).toBe(false);
  });
});

describe('webhook targets', () => {
  it('names a configured webhook by its name and an ad-hoc one by its origin, never its path, query or user info', () => {
    expect(webhookLabel({ name: 'ops' })).toBe("webhook 'ops'");
    expect(
      webhookLabel({ url: 'https://hooks.slack.com/services/T0/B0/SECRET', events: ['success'], format: 'slack' }),
    ).toBe('https://hooks.slack.com/…');
    expect(webhookOrigin('https://user:pass@Hooks.Example.com:8443/x?token=1')).toBe(
      'https://hooks.example.com:8443/…',
    );
    expect(webhookOrigin('not a url')).toBe('(webhook)');
    expect(withoutUrl('fetch https://h/x/SECRET failed', 'https://h/x/SECRET', 'https://h/…')).toBe(
      'fetch https://h/… failed',
    );
  });

  it('allows an ad-hoc URL under a prefix of the policy, compared as parsed URLs', () => {
    const prefixes = ['https://hooks.example.com/kvm', 'http://10.0.0.5:8080/'];
    expect(webhookUrlAllowed('https://hooks.example.com/kvm', prefixes)).toBe(true);
    expect(webhookUrlAllowed('https://hooks.example.com/kvm/ops?x=1', prefixes)).toBe(true);
    expect(webhookUrlAllowed('https://HOOKS.example.com:443/kvm/ops', prefixes)).toBe(true);
    expect(webhookUrlAllowed('http://10.0.0.5:8080/anything', prefixes)).toBe(true);
  });

  it('attack: refuses loopback, metadata and look-alike URLs that a string prefix check would let through', () => {
    const prefixes = ['https://hooks.example.com/kvm', 'http://10.0.0.5:8080/'];
    for (const url of [
      'http://127.0.0.1:9000/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/hook',
      'https://hooks.example.com.evil.test/kvm',
      'https://hooks.example.com/kvm-other',
      'https://hooks.example.com@127.0.0.1/kvm',
      'https://hooks.example.com/kvm/../admin',
      'https://hooks.example.com/kvm/%2e%2e/admin',
      'https://user:pw@hooks.example.com/kvm/x',
      'http://hooks.example.com/kvm/x',
      'http://10.0.0.5:8081/x',
      'http://10.0.0.5/x',
      'not a url',
    ]) {
      expect(webhookUrlAllowed(url, prefixes), url).toBe(false);
    }
    expect(webhookUrlAllowed('https://hooks.example.com/kvm/x', [])).toBe(false);
  });
});
