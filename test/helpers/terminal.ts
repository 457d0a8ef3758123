import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { bin } from './cli';

const run = promisify(execFile);

/**
 * Runs a command on a pseudo-terminal (python3's pty), as a user at a shell runs it, and answers each passphrase
 * prompt it shows with the next of `answers`. What the terminal showed comes back as one text, stdout and stderr
 * mixed.
 */
const terminal = String.raw`
import os, pty, re, signal, sys
answers = sys.argv[1].split('\n') if sys.argv[1] else []
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
# A command left waiting for an answer it will never get is ended, not left behind.
signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
signal.alarm(150)
prompts = re.compile(rb'(?:Enter|Bad) passphrase')
shown = b''
answered = 0
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    shown += data
    while len(prompts.findall(shown)) > answered and answered < len(answers):
        os.write(fd, answers[answered].encode() + b'\n')
        answered += 1
sys.stdout.buffer.write(shown)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`;

export interface TerminalRun {
  code: number;
  shown: string;
}

/** The real CLI binary on a terminal, answering passphrase prompts with `answers`. */
export async function kvmCloneOnTerminal(
  args: string[],
  answers: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<TerminalRun> {
  const argv = ['python3', '-c', terminal, answers.join('\n'), 'node', bin, ...args];
  try {
    const { stdout } = await run(argv[0]!, argv.slice(1), {
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, ...env },
    });
    return { code: 0, shown: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, shown: failed.stdout };
  }
}
