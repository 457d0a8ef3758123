import { execFile, spawnSync } from 'node:child_process';
import { chown, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { findFreePort } from '../../src/temporal/free-port';

const run = promisify(execFile);

export interface PostgresCluster {
  host: string;
  port: number;
  /** The cluster's superuser, which Temporal connects as (like the compose stack's POSTGRES_USER). */
  user: string;
  password: string;
  /** The temporary directory holding the data directory, the socket and postgres.log. */
  dir: string;
  /** Runs SQL as the superuser over the cluster's socket and returns psql's unaligned, tuples-only output. */
  query(sql: string, database?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface PostgresClusterOptions {
  /** The unprivileged system user the server runs as (default `postgres`, from Debian's package). */
  osUser?: string;
  user?: string;
  password?: string;
}

// Debian's layout: /usr/lib/postgresql/<major>/bin. KVM_CLONE_PG_BIN names another directory.
const DEBIAN_ROOT = '/usr/lib/postgresql';

/**
 * The Temporal server runs four services in one process, each with its own pools: up to
 * SQL_MAX_CONNS (20) + SQL_VIS_MAX_CONNS (10) connections per service
 * (deploy/temporal/config/production.yaml), so 120, beyond PostgreSQL's default of 100;
 * a server that reaches the limit fails requests with "too many clients already". The
 * rest leaves room for the schema tool, psql and monitoring. docker-compose.yml starts its
 * PostgreSQL with the same value.
 */
export const POSTGRES_MAX_CONNECTIONS = 200;

/**
 * A throwaway PostgreSQL cluster on 127.0.0.1 and a free port: initdb and pg_ctl from
 * Debian's packages, run as an unprivileged user (PostgreSQL refuses root), with the data
 * directory and the socket in a temporary directory this function creates and stop()
 * removes. No systemd, no shared cluster. Durability is traded for speed (fsync off): the
 * data lives as long as one test run.
 */
export async function startPostgresCluster(options: PostgresClusterOptions = {}): Promise<PostgresCluster> {
  const osUser = options.osUser ?? 'postgres';
  const user = options.user ?? 'temporal';
  const password = options.password ?? 'temporal';
  const binDir = await postgresBinDir();
  const [uid, gid] = await Promise.all([idOf(osUser, '-u'), idOf(osUser, '-g')]);

  const dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-pg-'));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  const asUser = (tool: string, args: string[]) =>
    run('runuser', ['-u', osUser, '--', path.join(binDir, tool), ...args], { cwd: dir });
  const pgCtl = (...args: string[]) => ['-D', dataDir, ...args];
  let started = false;
  // A crashed test run must not leave a server behind on the machine.
  const stopOnExit = (): void => {
    if (started)
      spawnSync('runuser', ['-u', osUser, '--', path.join(binDir, 'pg_ctl'), ...pgCtl('-m', 'immediate', 'stop')]);
    removeDir();
  };

  try {
    await chown(dir, uid, gid);
    const passwordFile = path.join(dir, 'password');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    await chown(passwordFile, uid, gid);
    await asUser('initdb', [
      '-D',
      dataDir,
      '-U',
      user,
      `--pwfile=${passwordFile}`,
      // The socket sits in a 0700 directory of the server's user; TCP needs the password.
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--no-locale',
      '--no-sync',
    ]);
    await rm(passwordFile);

    const port = await findFreePort();
    const settings = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      `-c max_connections=${POSTGRES_MAX_CONNECTIONS}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
    ].join(' ');
    process.once('exit', stopOnExit);
    started = true;
    await asUser('pg_ctl', pgCtl('-l', logFile, '-w', '-t', '60', '-o', settings, 'start'));

    let stopping: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port,
      user,
      password,
      dir,
      query: async (sql, database = 'postgres') =>
        (
          await asUser('psql', ['-h', dir, '-p', String(port), '-U', user, '-d', database, '-AtqX', '-c', sql])
        ).stdout.trim(),
      stop: () =>
        (stopping ??= (async () => {
          process.off('exit', stopOnExit);
          await asUser('pg_ctl', pgCtl('-m', 'fast', '-w', 'stop')).catch(() =>
            asUser('pg_ctl', pgCtl('-m', 'immediate', 'stop')).catch(() => undefined),
          );
          await rm(dir, { recursive: true, force: true });
        })()),
    };
  } catch (error) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    process.off('exit', stopOnExit);
    stopOnExit();
    throw new Error(`PostgreSQL did not start: ${error instanceof Error ? error.message : String(error)}\n${log}`, {
      cause: error,
    });
  }
}

/** The newest of Debian's PostgreSQL versions that has initdb, or KVM_CLONE_PG_BIN. */
async function postgresBinDir(): Promise<string> {
  const fromEnvironment = process.env.KVM_CLONE_PG_BIN;
  if (fromEnvironment) return fromEnvironment;
  const majors = (await readdir(DEBIAN_ROOT).catch(() => [] as string[]))
    .filter((entry) => /^\d+$/.test(entry))
    .sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const candidate = path.join(DEBIAN_ROOT, major, 'bin');
    if ((await readdir(candidate).catch(() => [] as string[])).includes('initdb')) return candidate;
  }
  throw new Error(`no PostgreSQL server under ${DEBIAN_ROOT}/<version>/bin: run scripts/setup (postgresql-15)`);
}

async function idOf(osUser: string, flag: '-u' | '-g'): Promise<number> {
  const { stdout } = await run('id', [flag, osUser]).catch((error: unknown) => {
    throw new Error(`no system user '${osUser}' to run PostgreSQL as (Debian's postgresql package creates it)`, {
      cause: error,
    });
  });
  return Number(stdout.trim());
}
