import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import type { Client } from 'ssh2';
import type { ActivityDeps } from '../../../src/activities/deps';
import { hostSpecSchema, type HostSpec } from '../../../src/domain/schemas/host';
import { DEFAULT_WORKER_POLICY } from '../../../src/domain/schemas/worker-policy';
import { SshSession } from '../../../src/hosts/ssh-session';

/**
 * An ssh2 channel whose command runs on this machine under `sh -c`: stdout is its readable
 * side, stdin its writable side, and it reports 'exit' then 'close' as ssh2 does.
 */
class LocalChannel extends Duplex {
  readonly stderr;

  constructor(private readonly child: ChildProcess) {
    // ssh2 emits 'close' once the command has exited, never on its own stream ending.
    super({ autoDestroy: false, emitClose: false });
    this.stderr = child.stderr!;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout!.pause();
    });
    child.stdout!.on('end', () => this.push(null));
    // A command that exits without reading its stdin: the rest of the input goes nowhere, as over SSH.
    child.stdin!.on('error', () => undefined);
    child.on('exit', (code, signal) => this.emit('exit', code, signal ?? undefined));
    child.on('close', () => this.emit('close'));
  }

  override _read(): void {
    this.child.stdout!.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.child.stdin!.write(chunk, () => done());
  }

  override _final(done: (error?: Error | null) => void): void {
    this.child.stdin!.end(() => done());
  }

  close(): void {
    this.child.kill('SIGTERM');
  }
}

/** What a test's host runs instead of a command, e.g. to play a device this machine has not; the command itself by default. */
export type CommandStandIn = (command: string) => string;

/** A session to "host" `spec` whose commands run on this machine: the SSH transport is the only part faked. */
export function localSession(spec: HostSpec, standIn: CommandStandIn = (command) => command): SshSession {
  const client = Object.assign(new EventEmitter(), {
    exec: (command: string, callback: (error: Error | undefined, channel: LocalChannel) => void) => {
      callback(undefined, new LocalChannel(spawn('sh', ['-c', standIn(command)])));
    },
    end: () => undefined,
  });
  return new SshSession(spec, client as unknown as Client);
}

/**
 * Activity deps whose every host alias is this machine with `storageDir` as its only
 * writable directory. Each call makes new hosts, so the worker-wide tool probe cache is
 * not shared between tests.
 */
export function localDeps(storageDir: string, standIn?: CommandStandIn): ActivityDeps {
  const name = `local-${Math.random().toString(36).slice(2, 8)}.example`;
  const spec = hostSpecSchema.parse({ address: name, storageDir });
  const session = localSession(spec, standIn);
  return {
    pool: { withSession: <T>(_host: HostSpec, use: (session: SshSession) => Promise<T>) => use(session) },
    hosts: { resolve: () => spec },
    policy: DEFAULT_WORKER_POLICY,
    webhooks: {},
  } as unknown as ActivityDeps;
}
