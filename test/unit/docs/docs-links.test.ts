import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/main';
import { ErrorCode, isRetryableCode } from '../../../src/errors';
import {
  anchorsOf,
  brokenLinks,
  errorCodeProblems,
  flagMentions,
  formatProblem,
  headingSlug,
  unknownFlags,
  type MarkdownFile,
} from './docs-check';

const root = path.resolve(__dirname, '../../..');

/** Markdown files of the repository: tracked, or new and not ignored, so a page is checked before its first commit. */
function markdownFiles(): MarkdownFile[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.md'], {
    cwd: root,
    encoding: 'utf8',
  });
  return [...new Set(listed.split('\0').filter(Boolean))]
    .filter((file) => !file.startsWith('node_modules/') && !file.startsWith('docs/api/'))
    .sort()
    .flatMap((file) => {
      try {
        return [{ path: file, text: readFileSync(path.join(root, file), 'utf8') }];
      } catch {
        return []; // deleted in the working tree, not yet in the index
      }
    });
}

/** Every long option of the real program and its subcommands, hidden ones and `--help` included. */
function cliFlags(): Set<string> {
  const flags = new Set<string>();
  const visit = (command: Command): void => {
    for (const option of [...command.options, ...command.createHelp().visibleOptions(command)])
      if (option.long) flags.add(option.long);
    command.commands.forEach(visit);
  };
  visit(buildProgram());
  return flags;
}

/** The pages for users and contributors, whose `--flags` must be kvm-clone's (or attributed to another program). */
function namesCliFlags(file: MarkdownFile): boolean {
  return file.path === 'README.md' || file.path === 'CONTRIBUTING.md' || /^docs\/[^/]+\.md$/.test(file.path);
}

describe('the docs', () => {
  const files = markdownFiles();

  it('are found', () => {
    expect(files.map((file) => file.path)).toEqual(expect.arrayContaining(['README.md', 'docs/cli.md']));
  });

  it('link only to files and headings that exist', () => {
    expect(files.flatMap((file) => brokenLinks(file, root)).map(formatProblem)).toEqual([]);
  });

  it('name only options the CLI has', () => {
    const flags = cliFlags();
    expect(flags).toContain('--dry-run');
    expect(
      files
        .filter(namesCliFlags)
        .flatMap((file) => unknownFlags(file, flags))
        .map(formatProblem),
    ).toEqual([]);
  });

  it('list every error code of src/errors.ts with its name and retry rule', () => {
    const page = files.find((file) => file.path === 'docs/errors.md');
    expect(page).toBeDefined();
    expect(errorCodeProblems(page!, ErrorCode, isRetryableCode).map(formatProblem)).toEqual([]);
  });
});

describe('the docs checker', () => {
  const page = (filePath: string, text: string): MarkdownFile => ({ path: filePath, text });
  const repository: Record<string, string> = {
    'docs/clone.md': '# Clone\n\n## Relay and direct mode\n\n## Options\n\n## Options\n',
    docs: '',
  };
  const read = (relativePath: string): string | undefined => repository[relativePath];

  it('makes GitHub heading ids', () => {
    expect(headingSlug('`clone SOURCE DEST VM`')).toBe('clone-source-dest-vm');
    expect(headingSlug("The worker's policy")).toBe('the-workers-policy');
    expect(headingSlug('Metrics, logs, shutdown')).toBe('metrics-logs-shutdown');
    expect(headingSlug('`list [HOST…]`')).toBe('list-host');
    expect(headingSlug('10xx: general')).toBe('10xx-general');
    expect([...anchorsOf(repository['docs/clone.md']!)]).toEqual([
      'clone',
      'relay-and-direct-mode',
      'options',
      'options-1',
    ]);
  });

  it('takes no heading from a code block', () => {
    expect(anchorsOf('```sh\n# not a heading\n```\n# Real\n')).toEqual(new Set(['real']));
  });

  it('reports a missing file and a missing heading, by file and line', () => {
    const readme = page(
      'README.md',
      [
        'See [clone](docs/clone.md#options), [the docs](docs/) and [direct](docs/clone.md#relay-and-direct-mode).',
        'A [typo](docs/clnoe.md) and a [lost heading](docs/clone.md#sizing).',
        'Not links: `[x](nowhere.md)`, [web](https://example.com/a.md), [mail](mailto:a@b.c).',
        '```md',
        '[in a block](nowhere.md)',
        '```',
        '[same page](#nothing-here)',
      ].join('\n'),
    );
    expect(brokenLinks(readme, '/nonexistent', read).map(formatProblem)).toEqual([
      "README.md:2: broken link 'docs/clnoe.md': docs/clnoe.md does not exist",
      "README.md:2: broken link 'docs/clone.md#sizing': docs/clone.md has no heading #sizing",
      "README.md:7: broken link '#nothing-here': README.md has no heading #nothing-here",
    ]);
  });

  it('resolves links from the linking file', () => {
    const cli = page('docs/cli.md', '[clone](clone.md#options) and [up](../docs/clone.md) and [out](../../etc/passwd)');
    expect(brokenLinks(cli, '/nonexistent', read).map(formatProblem)).toEqual([
      "docs/cli.md:1: link '../../etc/passwd' leaves the repository",
    ]);
  });

  it("reports an option the CLI does not have, and not another program's", () => {
    const flags = new Set(['--dry-run', '--parallel']);
    const cli = page(
      'docs/cli.md',
      [
        'Run `kvm-clone clone a b web01 --dry-run` or pass --parallel 2.',
        'Unknown: `--dryrun`, and in prose --quick.',
        '```sh',
        'kvm-clone clone a b web01 --parralel 4   # a typo',
        'rsync --sparse a b; ssh a dd | ssh b dd conv=sparse --oops',
        'kvm-clone sync a b web01 --dry-run   # the comment is ours: --nope',
        '```',
        '`virsh blockcommit --active --pivot` is virsh; `blockcommit --active` alone is not attributed.',
      ].join('\n'),
    );
    expect(unknownFlags(cli, flags).map(formatProblem)).toEqual([
      "docs/cli.md:2: '--dryrun' is not an option of kvm-clone (if it is another program's, write it in code after that program's name)",
      "docs/cli.md:2: '--quick' is not an option of kvm-clone (if it is another program's, write it in code after that program's name)",
      "docs/cli.md:4: '--parralel' is not an option of kvm-clone (if it is another program's, write it in code after that program's name)",
      "docs/cli.md:6: '--nope' is not an option of kvm-clone (if it is another program's, write it in code after that program's name)",
      "docs/cli.md:8: '--active' is not an option of kvm-clone (if it is another program's, write it in code after that program's name)",
    ]);
    expect(flagMentions('`rsync --sparse` and `ssh a dd | ssh b dd --oops`')).toEqual([
      { line: 1, flag: '--sparse', tool: 'rsync' },
      { line: 1, flag: '--oops', tool: 'ssh' },
    ]);
  });

  it('reports error codes the page and the code table disagree on', () => {
    const errors = page(
      'docs/errors.md',
      [
        '- **1003** `VM_NOT_FOUND_ERROR` (not retryable): gone.',
        '- **1002** `CONNECTION_FAILED` (retryable): renamed.',
        '- **1006** `TRANSFER_ERROR` (not retryable): wrong rule.',
        '- **1999** `MADE_UP` (retryable): not in the table.',
      ].join('\n'),
    );
    const table = { CONNECTION_ERROR: 1002, VM_NOT_FOUND_ERROR: 1003, TRANSFER_ERROR: 1006, VALIDATION_ERROR: 1007 };
    expect(errorCodeProblems(errors, table, (code) => code === 1002 || code === 1006).map(formatProblem)).toEqual([
      'docs/errors.md:2: error 1002 is CONNECTION_ERROR in src/errors.ts, not CONNECTION_FAILED',
      'docs/errors.md:3: error 1006 is retryable in src/errors.ts',
      'docs/errors.md:4: error 1999 is not in src/errors.ts',
      'docs/errors.md:1: error 1007 (VALIDATION_ERROR) is not documented',
    ]);
  });
});
