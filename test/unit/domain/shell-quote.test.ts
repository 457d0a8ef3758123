import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { joinShell, quoteShellArg, sh, ShellFragment } from '../../../src/domain/shell-quote';

// Created at load time: the hostile strings name files inside it, and it.each needs them then.
const dir = mkdtempSync(path.join(os.tmpdir(), 'kvm-clone-shell-quote-'));
// A file for an unquoted `*` to expand to.
writeFileSync(path.join(dir, 'existing-file'), '');

afterEach(() => {
  for (const name of sideEffectFiles()) rmSync(path.join(dir, name), { recursive: true, force: true });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `command` with the real /bin/sh in the scratch directory; returns the NUL-separated words it prints. */
function runSh(command: string | ShellFragment): string[] {
  const output = execFileSync('sh', ['-c', String(command)], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
  });
  const words = output.toString('utf8').split('\0');
  expect(words.pop()).toBe('');
  return words;
}

function hostileStrings(): string[] {
  const marker = (name: string) => path.join(dir, name);
  return [
    'two words',
    "it's",
    'say "hi"',
    `mixed 'single' and "double"`,
    "'",
    "''",
    `'\\''`,
    'a; touch ' + marker('semicolon'),
    `$(touch ${marker('dollar-paren')})`,
    `\`touch ${marker('backtick')}\``,
    `x && touch ${marker('and')} || touch ${marker('or')}`,
    `> ${marker('redirect')}`,
    `| tee ${marker('pipe')}`,
    'line one\nline two\n',
    '\ttab\r',
    '*',
    '-n',
    '--help',
    '-',
    '$HOME ${HOME} $0 $$ $?',
    '~',
    '~/x',
    '!!',
    '{a,b}',
    '# not a comment',
    'back\\slash\\',
    'ünïcødé 🚀 名前',
    '',
    ' ',
    'vm-1.qcow2',
    'a=b',
  ];
}

function sideEffectFiles(): string[] {
  return readdirSync(dir).filter((name) => name !== 'existing-file');
}

describe('quoteShellArg with a real /bin/sh', () => {
  it.each(hostileStrings().map((text) => [JSON.stringify(text), text]))(
    'passes %s as exactly one literal argument',
    (_label, text) => {
      expect(runSh(`printf '%s\\0' ${quoteShellArg(text)}`)).toEqual([text]);
      expect(sideEffectFiles()).toEqual([]);
    },
  );

  it('keeps every hostile string a separate word when they are all in one command', () => {
    const texts = hostileStrings();
    expect(runSh(`printf '%s\\0' ${texts.map(quoteShellArg).join(' ')}`)).toEqual(texts);
    expect(sideEffectFiles()).toEqual([]);
  });

  it('quotes numbers as their decimal text', () => {
    expect(quoteShellArg(42)).toBe('42');
    expect(runSh(`printf '%s\\0' ${quoteShellArg(-1.5)}`)).toEqual(['-1.5']);
  });

  it('leaves plain words unquoted and quotes everything else', () => {
    expect(quoteShellArg('/var/lib/libvirt/images/web-1.qcow2')).toBe('/var/lib/libvirt/images/web-1.qcow2');
    expect(quoteShellArg('user@host:22,x+y=z%')).toBe('user@host:22,x+y=z%');
    expect(quoteShellArg('')).toBe("''");
    expect(quoteShellArg('a b')).toBe("'a b'");
    expect(quoteShellArg("it's")).toBe(`'it'\\''s'`);
  });

  it('refuses NUL bytes, which no shell argument can carry', () => {
    expect(() => quoteShellArg('a\0b')).toThrow(TypeError);
    expect(() => quoteShellArg('\0')).toThrow(/NUL/);
  });
});

describe('sh template', () => {
  it('quotes interpolated strings and numbers but keeps the literal parts as shell syntax', () => {
    const name = `web "prod"; $(touch ${path.join(dir, 'pwned')})`;
    const command = sh`printf '%s\\0' ${name} ${7} | cat`;
    expect(command).toBeInstanceOf(ShellFragment);
    expect(runSh(command)).toEqual([name, '7']);
    expect(sideEffectFiles()).toEqual([]);
  });

  it('turns an array into one quoted word per element', () => {
    const files = ['a b', "c'd", '*', ''];
    const command = sh`printf '%s\\0' ${files} end`;
    expect(runSh(command)).toEqual([...files, 'end']);
    expect(sh`x ${[]} y`.text).toBe('x  y');
  });

  it('inserts nested fragments verbatim, without quoting them again', () => {
    const inner = sh`printf '%s\\0' ${'a b'}`;
    const outer = sh`${inner} && printf '%s\\0' ${'c;d'}`;
    expect(outer.text).toBe(`printf '%s\\0' 'a b' && printf '%s\\0' 'c;d'`);
    expect(runSh(outer)).toEqual(['a b', 'c;d']);
  });

  it('renders through toString and throws on NUL in any value', () => {
    expect(`${sh`echo ${'x y'}`}`).toBe(`echo 'x y'`);
    expect(() => sh`echo ${['ok', 'bad\0']}`).toThrow(TypeError);
  });
});

describe('joinShell', () => {
  it('joins fragments with the separator and runs each as its own command', () => {
    const joined = joinShell([sh`printf '%s\\0' ${'one two'}`, sh`false`, sh`printf '%s\\0' ${"three's"}`], ' ; ');
    expect(joined.text).toBe(`printf '%s\\0' 'one two' ; false ; printf '%s\\0' 'three'\\''s'`);
    expect(runSh(joined)).toEqual(['one two', "three's"]);
  });

  it('short-circuits with && like the shell would', () => {
    expect(runSh(joinShell([sh`printf '%s\\0' a`, sh`false`, sh`printf '%s\\0' never`], ' && ') + ' || true')).toEqual([
      'a',
    ]);
  });

  it('joins nothing into an empty fragment', () => {
    expect(joinShell([], ' && ').text).toBe('');
  });
});
