import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** A Markdown file, by its path from the repository root. */
export interface MarkdownFile {
  path: string;
  text: string;
}

/** One thing wrong in a file, as `file:line: message` for the test's failure output. */
export interface DocsProblem {
  file: string;
  line: number;
  message: string;
}

export function formatProblem(problem: DocsProblem): string {
  return `${problem.file}:${problem.line}: ${problem.message}`;
}

/** A run of text on one line, and whether it is code (a fenced block line or a code span). */
interface Segment {
  text: string;
  code: boolean;
}

/** A line of a Markdown file outside fenced blocks keeps its prose; inside one it is all code. */
interface ScannedLine {
  number: number;
  text: string;
  inFence: boolean;
}

const FENCE = /^\s{0,3}(`{3,}|~{3,})/;

/** Lines with their fenced-block state: the fence lines themselves count as code. */
function scanLines(text: string): ScannedLine[] {
  const lines: ScannedLine[] = [];
  let fence: string | undefined;
  text.split('\n').forEach((line, index) => {
    const marker = FENCE.exec(line)?.[1];
    if (fence === undefined && marker) {
      fence = marker;
      lines.push({ number: index + 1, text: line, inFence: true });
    } else if (fence !== undefined) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker)
        fence = undefined;
      lines.push({ number: index + 1, text: line, inFence: true });
    } else {
      lines.push({ number: index + 1, text: line, inFence: false });
    }
  });
  return lines;
}

/** A prose line cut into prose and code spans (a span is a run of backticks up to the same run). */
function segments(line: string): Segment[] {
  const result: Segment[] = [];
  let rest = line;
  for (;;) {
    const open = /`+/.exec(rest);
    if (!open) break;
    const ticks = open[0];
    const close = rest.indexOf(ticks, open.index + ticks.length);
    if (close === -1) break;
    if (open.index > 0) result.push({ text: rest.slice(0, open.index), code: false });
    result.push({ text: rest.slice(open.index + ticks.length, close), code: true });
    rest = rest.slice(close + ticks.length);
  }
  if (rest) result.push({ text: rest, code: false });
  return result;
}

/** The line with code spans blanked out, so links are found in prose only but keep their columns. */
function proseOnly(line: string): string {
  return segments(line)
    .map((segment) => (segment.code ? ` ${' '.repeat(segment.text.length)} ` : segment.text))
    .join('');
}

// ---------------------------------------------------------------------------------------------
// Anchors

/**
 * GitHub's heading ids (github-slugger): the heading's text without its Markdown, lower case,
 * every character that is not a letter, digit, mark, `_`, `-` or space dropped, spaces as `-`.
 */
export function headingSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, '').replace(/ /g, '-');
}

/** The ids a file's headings (and explicit `<a id|name>` anchors) get, duplicates numbered as GitHub does. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const add = (slug: string): void => {
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  };
  const lines = scanLines(markdown);
  lines.forEach((line, index) => {
    if (line.inFence) return;
    const atx = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line.text);
    const previous = lines[index - 1];
    if (atx) add(headingSlug(atx[1]!));
    else if (/^\s{0,3}(=+|-+)\s*$/.test(line.text) && previous && !previous.inFence && isParagraphLine(previous.text))
      add(headingSlug(previous.text));
    for (const match of line.text.matchAll(/<a\s[^>]*(?:id|name)="([^"]+)"/g)) anchors.add(match[1]!);
  });
  return anchors;
}

/** A line that can be the text of a setext heading: plain paragraph text, not a list, table, quote or rule. */
function isParagraphLine(text: string): boolean {
  return text.trim() !== '' && !/^\s*([-*+>|#]|\d+[.)]\s)/.test(text);
}

// ---------------------------------------------------------------------------------------------
// Links

/** A relative link: its target as written, and the line it is on. */
export interface RelativeLink {
  line: number;
  target: string;
}

const INLINE_LINK = /!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const REFERENCE_DEFINITION = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/;
const HTML_LINK = /<(?:a|img)\s[^>]*(?:href|src)="([^"]+)"/g;

/** Links that point into the repository: not URLs with a scheme, not protocol-relative, not in code. */
export function relativeLinks(markdown: string): RelativeLink[] {
  const links: RelativeLink[] = [];
  for (const line of scanLines(markdown)) {
    if (line.inFence) continue;
    const prose = proseOnly(line.text);
    const targets = [
      ...[...prose.matchAll(INLINE_LINK)].map((match) => match[1]!),
      ...[...prose.matchAll(HTML_LINK)].map((match) => match[1]!),
      ...(REFERENCE_DEFINITION.exec(prose)?.slice(1, 2) ?? []),
    ];
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
      links.push({ line: line.number, target });
    }
  }
  return links;
}

/**
 * Broken relative links of one file: a file or directory that does not exist, or an `#anchor`
 * that no heading of the target Markdown file has. Paths starting with `/` are from the
 * repository root, as GitHub reads them.
 */
export function brokenLinks(file: MarkdownFile, root: string, readMarkdown = defaultReader(root)): DocsProblem[] {
  const problems: DocsProblem[] = [];
  for (const link of relativeLinks(file.text)) {
    const hashAt = link.target.indexOf('#');
    const pathPart = decodeURIComponent(hashAt === -1 ? link.target : link.target.slice(0, hashAt));
    const anchor = hashAt === -1 ? undefined : decodeURIComponent(link.target.slice(hashAt + 1));
    const targetPath =
      pathPart === ''
        ? file.path
        : path.posix
            .normalize(
              pathPart.startsWith('/') ? pathPart.slice(1) : path.posix.join(path.posix.dirname(file.path), pathPart),
            )
            .replace(/(.)\/+$/, '$1');
    const report = (message: string): void => {
      problems.push({ file: file.path, line: link.line, message });
    };
    if (targetPath.startsWith('..')) {
      report(`link '${link.target}' leaves the repository`);
      continue;
    }
    const target = targetPath === file.path ? file.text : readMarkdown(targetPath);
    if (target === undefined) {
      report(`broken link '${link.target}': ${targetPath} does not exist`);
      continue;
    }
    if (anchor !== undefined && anchor !== '' && /\.md$/i.test(targetPath) && !anchorsOf(target).has(anchor))
      report(`broken link '${link.target}': ${targetPath} has no heading #${anchor}`);
  }
  return problems;
}

/** Reads a path of the repository: a file's text, '' for a directory, undefined when missing. */
function defaultReader(root: string): (relativePath: string) => string | undefined {
  return (relativePath) => {
    const full = path.join(root, relativePath);
    if (!existsSync(full)) return undefined;
    try {
      return readFileSync(full, 'utf8');
    } catch {
      return '';
    }
  };
}

// ---------------------------------------------------------------------------------------------
// CLI options

/**
 * Programs whose own `--options` the docs may show, when the option stands in code after the
 * program's name (`rsync --sparse`, `docker compose up --scale worker=2`). Each one is named in
 * the docs as a tool an operator or developer runs next to kvm-clone.
 */
export const OTHER_TOOLS: ReadonlySet<string> = new Set([
  'ssh', // OpenSSH, which kvm-clone and the benchmarks' baselines use
  'rsync', // a baseline the docs compare syncs with
  'virsh', // what kvm-clone runs on the hosts (architecture, security)
  'qemu-img', // idem
  'useradd', // the tutorial's host setup
  'docker', // the compose stack (docker compose up --scale worker=2)
  'npm', // npm run bench -- --quick
  'npx', // npx prettier --write, npx vitest …
  'vitest', // npx vitest run --project unit
  'temporal', // temporal workflow show --output json, for bug reports
  'temporal-server', // the production Temporal server's start command (operations)
]);

/** A `--flag` the docs name, where, and whether it was attributed to another program. */
export interface FlagMention {
  line: number;
  flag: string;
  /** The program the flag belongs to, when it stands in code after another program's name. */
  tool?: string;
}

const FLAG = /(?<![\w-])--[a-z0-9][a-z0-9-]*/gi;

/** The program a word of a command names: `/usr/bin/ssh` and `ssh` are both `ssh`. */
function programOf(word: string): string {
  return path.posix.basename(word.replace(/^[(["'[]+/, ''));
}

/**
 * Every `--flag` in a Markdown file. In code, a flag belongs to the last program named before
 * it in the same command (a command ends at `|`, `;`, `&&` or a `#` comment); in prose it is
 * kvm-clone's.
 */
export function flagMentions(markdown: string): FlagMention[] {
  const mentions: FlagMention[] = [];
  for (const line of scanLines(markdown)) {
    const parts = line.inFence ? [{ text: line.text, code: true }] : segments(line.text);
    for (const part of parts) {
      for (const command of part.code ? part.text.split(/\|\||&&|\||;|(?:^|\s)#\s/) : [part.text]) {
        for (const match of command.matchAll(FLAG)) {
          const words = command.slice(0, match.index).split(/\s+/).filter(Boolean);
          const named = part.code
            ? words.map(programOf).findLast((word) => word === 'kvm-clone' || OTHER_TOOLS.has(word))
            : undefined;
          const flag = match[0];
          mentions.push({ line: line.number, flag, ...(named && named !== 'kvm-clone' ? { tool: named } : {}) });
        }
      }
    }
  }
  return mentions;
}

/** Options the docs name that the CLI does not have: kvm-clone's flags only, not other programs'. */
export function unknownFlags(file: MarkdownFile, cliFlags: ReadonlySet<string>): DocsProblem[] {
  return flagMentions(file.text)
    .filter((mention) => mention.tool === undefined && !cliFlags.has(mention.flag))
    .map((mention) => ({
      file: file.path,
      line: mention.line,
      message: `'${mention.flag}' is not an option of kvm-clone (if it is another program's, write it in code after that program's name)`,
    }));
}

// ---------------------------------------------------------------------------------------------
// Error codes

/** An error code as docs/errors.md lists it: `- **1003** `NAME` (retryable): …`. */
export interface DocumentedCode {
  line: number;
  code: number;
  name: string;
  retryable: boolean;
}

export function documentedErrorCodes(markdown: string): DocumentedCode[] {
  const codes: DocumentedCode[] = [];
  markdown.split('\n').forEach((text, index) => {
    const match = /^- \*\*(\d{4})\*\* `([A-Z_]+)` \((retryable|not retryable)\):/.exec(text);
    if (match)
      codes.push({ line: index + 1, code: Number(match[1]), name: match[2]!, retryable: match[3] === 'retryable' });
  });
  return codes;
}

/** Where the page and the code table disagree: a code missing on either side, another name, another retry rule. */
export function errorCodeProblems(
  file: MarkdownFile,
  table: Readonly<Record<string, number>>,
  isRetryable: (code: number) => boolean,
): DocsProblem[] {
  const documented = documentedErrorCodes(file.text);
  const problems: DocsProblem[] = [];
  const report = (line: number, message: string): void => {
    problems.push({ file: file.path, line, message });
  };
  for (const entry of documented) {
    const name = Object.keys(table).find((key) => table[key] === entry.code);
    if (name === undefined) report(entry.line, `error ${entry.code} is not in src/errors.ts`);
    else if (name !== entry.name)
      report(entry.line, `error ${entry.code} is ${name} in src/errors.ts, not ${entry.name}`);
    else if (isRetryable(entry.code) !== entry.retryable)
      report(entry.line, `error ${entry.code} is ${isRetryable(entry.code) ? '' : 'not '}retryable in src/errors.ts`);
  }
  for (const [name, code] of Object.entries(table)) {
    if (!documented.some((entry) => entry.code === code)) report(1, `error ${code} (${name}) is not documented`);
  }
  return problems;
}
