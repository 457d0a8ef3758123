import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../../src/cli/config-schema';
import { POSTGRES_MAX_CONNECTIONS } from '../../helpers/postgres-cluster';
import { TEMPORAL_DEPLOY_DIR } from '../../helpers/temporal-server';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  container_name?: string;
  ports?: unknown[];
  expose?: unknown[];
  command?: string[];
  entrypoint?: string[];
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  secrets?: { source: string; target?: string }[];
  volumes?: (string | { source?: string; target: string; read_only?: boolean; type?: string })[];
  stop_grace_period?: string;
}

interface Compose {
  services: Record<string, ComposeService>;
  secrets?: Record<string, { file: string }>;
  volumes?: Record<string, unknown>;
}

/**
 * docker-compose (Debian's package, installed by scripts/setup) parses, interpolates and
 * validates the file against the compose schema without a Docker engine.
 */
async function composeConfig(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(
    'docker-compose',
    ['--project-directory', root, '-f', path.join(root, 'docker-compose.yml'), 'config', ...args],
    {
      cwd: root,
      env: { ...process.env, KVM_CLONE_CONFIG: './deploy/compose/kvm-clone.example.yaml' },
    },
  ).catch((error: NodeJS.ErrnoException & { stderr?: string }) => {
    if (error.code === 'ENOENT') throw new Error('docker-compose is not installed: run scripts/setup');
    throw new Error(`docker-compose config ${args.join(' ')} failed: ${error.stderr ?? error.message}`);
  });
}

function mountTarget(volume: NonNullable<ComposeService['volumes']>[number]): {
  source?: string;
  target: string;
  readOnly: boolean;
} {
  if (typeof volume !== 'string')
    return {
      ...(volume.source ? { source: volume.source } : {}),
      target: volume.target,
      readOnly: volume.read_only === true,
    };
  const [source, target, mode] = volume.split(':');
  return { ...(source ? { source } : {}), target: target ?? source!, readOnly: mode === 'ro' };
}

describe('docker-compose.yml', () => {
  it('is a valid compose file, without warnings', async () => {
    const { stderr } = await composeConfig('-q');
    expect(stderr.trim()).toBe('');
  });

  it('has PostgreSQL, the schema step, the server, the namespace step, the Web UI and the worker, in order', async () => {
    const compose = parse((await composeConfig()).stdout) as Compose;
    const { services } = compose;
    expect(Object.keys(services).sort()).toEqual([
      'postgresql',
      'temporal',
      'temporal-create-namespace',
      'temporal-schema',
      'temporal-ui',
      'worker',
    ]);
    expect(services.postgresql!.image).toMatch(/^postgres:/);
    // Room for the server's connection pools, as the production tests' cluster has.
    expect(services.postgresql!.command).toEqual(['postgres', '-c', `max_connections=${POSTGRES_MAX_CONNECTIONS}`]);
    // The current layout: the plain server image, and admin-tools for the schema. No auto-setup.
    expect(services['temporal-schema']!.image).toMatch(/^temporalio\/admin-tools:/);
    expect(services['temporal-create-namespace']!.image).toMatch(/^temporalio\/admin-tools:/);
    expect(services.temporal!.image).toMatch(/^temporalio\/server:/);
    for (const service of Object.values(services)) expect(service.image ?? '').not.toContain('auto-setup');
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:/);
    expect(services['temporal-schema']!.depends_on).toEqual({ postgresql: { condition: 'service_healthy' } });
    expect(services.temporal!.depends_on).toEqual({
      'temporal-schema': { condition: 'service_completed_successfully' },
    });
    expect(services['temporal-create-namespace']!.depends_on).toEqual({ temporal: { condition: 'service_healthy' } });
    expect(services.worker!.depends_on).toEqual({
      'temporal-create-namespace': { condition: 'service_completed_successfully' },
    });
  });

  it('builds the worker from the Dockerfile, scalable, with its config mounted and its SSH key and known_hosts as secrets', async () => {
    const compose = parse((await composeConfig()).stdout) as Compose;
    const worker = compose.services.worker!;
    expect(worker.build?.context).toBe(root);
    expect(worker.build?.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
    expect(worker.command).toEqual(['-c', '/etc/kvm-clone/config.yaml', 'worker']);
    // `--scale worker=N` needs no fixed name and no host port.
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports ?? []).toEqual([]);
    expect(worker.expose).toContain('9464');
    expect(worker.environment?.KVM_CLONE_METRICS_ADDRESS).toBe('0.0.0.0:9464');
    expect(worker.environment?.KVM_CLONE_LOG_FORMAT).toBe('json');
    const mounts = (worker.volumes ?? []).map(mountTarget);
    expect(mounts).toContainEqual({
      source: path.join(root, 'deploy/compose/kvm-clone.example.yaml'),
      target: '/etc/kvm-clone/config.yaml',
      readOnly: true,
    });
    expect(worker.secrets?.map((secret) => secret.target ?? secret.source).sort()).toEqual([
      'kvm-clone-known-hosts',
      'kvm-clone-ssh-key',
    ]);
    expect(Object.keys(compose.secrets ?? {}).sort()).toEqual(['kvm-clone-known-hosts', 'kvm-clone-ssh-key']);
    expect(worker.stop_grace_period).toBeDefined();
  });

  it('ships an example worker config that the CLI accepts, reading the key and known_hosts from the secrets', async () => {
    const config = configSchema.parse(
      parse(await readFile(path.join(root, 'deploy/compose/kvm-clone.example.yaml'), 'utf8')),
    );
    expect(config.temporal.address).toBe('temporal:7233');
    for (const host of Object.values(config.hosts)) {
      expect(host.identityFile).toBe('/run/secrets/kvm-clone-ssh-key');
      expect(host.knownHostsFile).toBe('/run/secrets/kvm-clone-known-hosts');
      expect(host.hostKeyPolicy).toBe('strict');
    }
  });

  it('has schema and namespace scripts that sh can parse', async () => {
    for (const script of ['setup-postgres.sh', 'create-namespace.sh'])
      await run('sh', ['-n', path.join(root, 'deploy/compose/scripts', script)]);
  });

  it('runs the Temporal server with the config template and start script the production tests run, of the release they build', async () => {
    const compose = parse((await composeConfig()).stdout) as Compose;
    const temporal = compose.services.temporal!;
    // The production project's helper starts deploy/temporal/start.sh from this same directory.
    expect(TEMPORAL_DEPLOY_DIR).toBe('deploy/temporal');
    expect((temporal.volumes ?? []).map(mountTarget)).toContainEqual({
      source: path.join(root, TEMPORAL_DEPLOY_DIR),
      target: '/etc/kvm-clone/temporal',
      readOnly: true,
    });
    expect(temporal.entrypoint).toEqual(['/bin/sh', '/etc/kvm-clone/temporal/start.sh']);
    await run('sh', ['-n', path.join(root, TEMPORAL_DEPLOY_DIR, 'start.sh')]);
    const pinned = /^version=(\S+)$/m.exec(
      await readFile(path.join(root, 'scripts/install-temporal-server'), 'utf8'),
    )?.[1];
    expect(temporal.image).toBe(`temporalio/server:${pinned}`);

    // The server renders the template from the service's environment: every variable compose
    // sets for the database and the bind address is one the template reads.
    const template = await readFile(path.join(root, TEMPORAL_DEPLOY_DIR, 'config/production.yaml'), 'utf8');
    expect(template.split('\n')[0]).toBe('# enable-template');
    expect(temporal.environment).toMatchObject({
      DB: 'postgres12',
      POSTGRES_SEEDS: 'postgresql',
      BIND_ON_IP: '0.0.0.0',
    });
    for (const variable of Object.keys(temporal.environment ?? {})) expect(template).toContain(`env "${variable}"`);
    const start = await readFile(path.join(root, TEMPORAL_DEPLOY_DIR, 'start.sh'), 'utf8');
    expect(start).toContain('--config "$here/config" --env production');
    expect(start).toContain('dynamicconfig/production.yaml');
  });
});

describe('Dockerfile', () => {
  it('builds in two stages from the lockfile, checks the ssh2 binding, bakes in no keys, and runs the worker', async () => {
    const dockerfile = await readFile(path.join(root, 'Dockerfile'), 'utf8');
    const instructions = dockerfile
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    expect(instructions.filter((line) => /^FROM /i.test(line))).toHaveLength(2);
    expect(instructions).toContain('COPY package.json package-lock.json ./');
    expect(instructions.some((line) => /^RUN npm ci\b/.test(line))).toBe(true);
    expect(instructions.some((line) => /^RUN npm install\b/.test(line))).toBe(false);
    // The build writes the workflow bundle the worker loads, so the image needs its script.
    expect(instructions).toContain('COPY scripts/bundle-workflows.cjs ./scripts/');
    expect(instructions.some((line) => /^RUN npm run build\b/.test(line))).toBe(true);
    expect(instructions.some((line) => line.includes('bindingAvailable') && line.includes('process.exit(1)'))).toBe(
      true,
    );
    const copied = instructions.filter((line) => /^(COPY|ADD) /i.test(line)).join('\n');
    expect(copied).not.toMatch(/ssh|known_hosts|id_|\.pem|\.key|config\.yaml|secrets/i);
    expect(instructions).toContain('USER node');
    expect(instructions).toContain('ENTRYPOINT ["kvm-clone"]');
    expect(instructions.at(-1)).toBe('CMD ["-c", "/etc/kvm-clone/config.yaml", "worker"]');
    const ignore = (await readFile(path.join(root, '.dockerignore'), 'utf8'))
      .split('\n')
      .filter((line) => line && !line.startsWith('#'));
    // Everything is excluded unless listed: no key, config, cache or lab file can slip into the context.
    expect(ignore[0]).toBe('*');
    expect(ignore.filter((line) => line.startsWith('!')).sort()).toEqual([
      '!bin/',
      '!package-lock.json',
      '!package.json',
      '!scripts/bundle-workflows.cjs',
      '!src/',
      '!tsconfig.build.json',
      '!tsconfig.json',
    ]);
  });
});
