/** Placeholders a scheduled clone's new name may hold, filled from the run's start time (UTC). */
const PLACEHOLDERS: Record<string, (time: Date) => string> = {
  date: (time) => time.toISOString().slice(0, 10),
  time: (time) => time.toISOString().slice(11, 19).replace(/:/g, ''),
  datetime: (time) =>
    `${time.toISOString().slice(0, 10).replace(/-/g, '')}-${time.toISOString().slice(11, 19).replace(/:/g, '')}`,
};

export const NAME_PLACEHOLDERS = Object.keys(PLACEHOLDERS).map((name) => `{${name}}`);

export function hasNamePlaceholder(template: string): boolean {
  return /\{(date|time|datetime)\}/.test(template);
}

/**
 * `web01-{date}` → `web01-2025-01-31`: {date} is YYYY-MM-DD, {time} HHMMSS and {datetime}
 * YYYYMMDD-HHMMSS, all UTC. Anything else in braces is left as it is (and the name
 * schema decides whether it is allowed).
 */
export function expandNameTemplate(template: string, time: Date): string {
  return template.replace(/\{(date|time|datetime)\}/g, (_, name: string) => PLACEHOLDERS[name]!(time));
}
