import { mkdtemp, open, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A guest script that keeps writing numbered records to its data disk until told to stop. */
export const guestWriterScript = path.resolve(__dirname, '../fixtures/guest-writer.sh');

const recordSector = 400000;
const recordCount = 1200;
const stopSector = 409600;

/** The highest record number the guest writer left in a raw data disk image, or -1. */
export async function lastWriterRecord(imagePath: string): Promise<number> {
  const file = await open(imagePath, 'r');
  try {
    const buffer = Buffer.alloc(recordCount * 512);
    await file.read(buffer, 0, buffer.length, recordSector * 512);
    let last = -1;
    for (let index = 0; index < recordCount; index++) {
      const match = /^KVMCLONE-WRITE-(\d{6})/.exec(buffer.toString('latin1', index * 512, index * 512 + 21));
      if (match) last = Math.max(last, Number(match[1]));
    }
    return last;
  } finally {
    await file.close();
  }
}

/** Makes the writer in a guest booted from this raw image stop at once. */
export async function writeStopFlag(imagePath: string): Promise<void> {
  const file = await open(imagePath, 'r+');
  try {
    await file.write(Buffer.from('KVMCLONE-STOP'), 0, 13, stopSector * 512);
  } finally {
    await file.close();
  }
}

/** Waits until the writer in a running guest has started. */
export async function waitForWriter(consoleLog: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await readFile(consoleLog, 'utf8').catch(() => '')).includes('KVMCLONE-WRITER-START')) {
    if (Date.now() > deadline) throw new Error('the guest writer never started');
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** A run script that keeps the guest up, idle, with a stand-in guest agent. */
export async function idleWithGuestAgentScript(options: { refusesFreeze?: boolean } = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kvm-clone-guest-'));
  const agent = await readFile(path.resolve(__dirname, '../fixtures/guest-agent.sh'), 'utf8');
  const file = path.join(dir, 'run.sh');
  await writeFile(file, `${options.refusesFreeze ? 'AGENT_REFUSES_FREEZE=1\n' : ''}(\n${agent}\n) &\nsleep 600\n`);
  return file;
}
