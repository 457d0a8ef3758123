/**
 * The only way kvm-clone builds a remote shell command. Every argument is quoted for
 * POSIX sh, so names and paths from users or from a host's libvirt (spaces, quotes,
 * `;`, `$(...)`, newlines) arrive as single literal words.
 */
export function quoteShellArg(arg: string | number): string {
  const text = String(arg);
  if (text.includes('\0')) {
    throw new TypeError('shell arguments cannot contain NUL bytes');
  }
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(text)) {
    return text;
  }
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * A trusted shell fragment (pipes, redirections, `&&`) whose variable parts are
 * inserted through the tagged template and quoted: sh`dd if=${path} bs=1M | sha256sum`.
 * An array becomes one quoted word per element.
 */
type ShellValue = string | number | ShellFragment | readonly (string | number)[];

function renderShellValue(value: ShellValue): string {
  if (value instanceof ShellFragment) return value.text;
  if (Array.isArray(value)) return value.map(quoteShellArg).join(' ');
  return quoteShellArg(value as string | number);
}

export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): ShellFragment {
  let text = strings[0] ?? '';
  values.forEach((value, index) => {
    text += renderShellValue(value);
    text += strings[index + 1] ?? '';
  });
  return new ShellFragment(text);
}

export class ShellFragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Joins fragments with a separator such as `; ` or ` && `. */
export function joinShell(fragments: ShellFragment[], separator: string): ShellFragment {
  return new ShellFragment(fragments.map((fragment) => fragment.text).join(separator));
}
