import { stringify } from 'yaml';
import { ErrorCode, KvmCloneError } from '../errors';
import type { OutputFormat } from './global-options';
import { exitStatusOf } from './usage-error';

/** Every JSON or YAML document the CLI prints names what it is in `type`. */
export interface ErrorDocument {
  type: 'error';
  code: number;
  codeName: string;
  message: string;
}

export function asKvmCloneError(error: unknown): KvmCloneError {
  return error instanceof KvmCloneError
    ? error
    : new KvmCloneError(ErrorCode.GENERAL_ERROR, error instanceof Error ? error.message : String(error));
}

export function errorDocument(error: unknown): ErrorDocument {
  const known = asKvmCloneError(error);
  return { type: 'error', code: known.code, codeName: known.codeName, message: known.message };
}

/** A document as one JSON line, or as one YAML document (`---` first, so several can follow each other). */
export function formatDocument(format: Exclude<OutputFormat, 'text'>, document: unknown): string {
  return format === 'json' ? `${JSON.stringify(document)}\n` : `---\n${stringify(document)}`;
}

/** Prints a result: `text` renders it for people, json/yaml print the document. */
export function printResult<T>(format: OutputFormat, document: T, text: (document: T) => string): void {
  process.stdout.write(format === 'text' ? text(document) : formatDocument(format, document));
}

/** The one-line message people read on stderr. */
export function errorLine(error: unknown): string {
  const known = asKvmCloneError(error);
  return `kvm-clone: error ${known.code} (${known.codeName}): ${known.message}`;
}

const failureHints: string[] = [];

/**
 * A line for people to read after the error should this command fail, e.g. where the
 * in-process worker's log is: what the command set up, not what went wrong, decides it.
 */
export function addFailureHint(hint: string): void {
  if (!failureHints.includes(hint)) failureHints.push(hint);
}

/** The error line, then the hints, for stderr. */
export function failureText(error: unknown): string {
  return [errorLine(error), ...failureHints.map((hint) => `kvm-clone: ${hint}`)].map((line) => `${line}\n`).join('');
}

/**
 * Reports a failure the way scripts and people both expect: the error document on stdout
 * for json/yaml, the error line (and any hints) on stderr, and a non-zero exit status (1; 2 for usage mistakes).
 */
export function fail(error: unknown, format: OutputFormat, exitStatus = exitStatusOf(error)): never {
  if (format !== 'text') process.stdout.write(formatDocument(format, errorDocument(error)));
  process.stderr.write(failureText(error));
  process.exit(exitStatus);
}
