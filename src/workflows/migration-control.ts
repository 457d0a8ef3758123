import { condition, defineQuery, defineSignal, setHandler } from '@temporalio/workflow';
import { cutoverTimeSchema, type MigrateOptions } from '../domain/schemas/migrate-input';
import { estimatedDowntime, type MigrationPass } from '../domain/migration';

/** A `cutover` signal's argument: absent or without `at`, cut over now; with `at`, not before that time. */
export interface CutoverRequest {
  at?: string;
}

/** Cut over now (no argument), or at a time (`{ "at": "2026-12-24T02:00:00Z" }`); ends a hold. */
export const cutoverSignal = defineSignal<[CutoverRequest?]>('cutover');
/** Hold the cutover until a `cutover` signal, keeping the copy in step meanwhile. */
export const holdCutoverSignal = defineSignal('holdCutover');

export interface MigrationProgress {
  phase: 'copying' | 'syncing' | 'waiting' | 'cutover' | 'retiring-source' | 'done' | 'failed';
  passes: MigrationPass[];
  /** What a cutover would cost now: the last sync's duration. */
  estimatedDowntimeSeconds?: number;
  maxDowntimeSeconds: number;
  /** Waiting for a `cutover` signal. */
  held: boolean;
  /** Not before this time (ISO 8601). */
  cutoverAt?: string;
  /** Once paused: the guest agent froze the guest's filesystems first. */
  guestFrozen?: boolean;
}

export const migrationQuery = defineQuery<MigrationProgress>('migration');

/**
 * When the cutover may happen: now, at a time, or on an operator's signal. Answers the
 * `migration` query with the passes so far, and takes the `cutover` and `holdCutover`
 * signals. A signal with a malformed time is ignored with a warning: a signal cannot be
 * refused, and it must not fail the migration.
 */
export class CutoverControl {
  readonly progress: MigrationProgress;
  private requestedNow = false;
  private changed = false;

  constructor(
    options: MigrateOptions,
    private readonly warnings: string[],
  ) {
    this.progress = {
      phase: 'copying',
      passes: [],
      maxDowntimeSeconds: options.maxDowntime,
      held: options.holdCutover,
      ...(options.cutoverAt ? { cutoverAt: options.cutoverAt } : {}),
    };
    setHandler(migrationQuery, () => ({
      ...this.progress,
      ...this.estimate(),
    }));
    setHandler(cutoverSignal, (request) => this.onCutover(request));
    setHandler(holdCutoverSignal, () => {
      this.progress.held = true;
      this.requestedNow = false;
      this.changed = true;
    });
  }

  /** An operator asked to cut over now, converged or not. */
  get cutoverRequested(): boolean {
    return this.requestedNow;
  }

  record(pass: MigrationPass): void {
    this.progress.passes.push(pass);
  }

  /**
   * Waits until the cutover is due (not held, its time reached, or asked for now), running
   * `keepInStep` every `intervalSeconds` meanwhile so the final delta stays small.
   */
  async waitUntilDue(intervalSeconds: number, keepInStep: () => Promise<void>): Promise<void> {
    for (;;) {
      const wait = this.waitMs();
      if (wait <= 0) return;
      this.progress.phase = 'waiting';
      this.changed = false;
      const interval = Math.min(wait, intervalSeconds * 1000);
      if (!(await condition(() => this.changed, interval)) && this.waitMs() > 0) await keepInStep();
    }
  }

  private waitMs(): number {
    if (this.requestedNow) return 0;
    if (this.progress.held) return Infinity;
    if (!this.progress.cutoverAt) return 0;
    return Math.max(0, Date.parse(this.progress.cutoverAt) - Date.now());
  }

  private estimate(): { estimatedDowntimeSeconds?: number } {
    const seconds = estimatedDowntime(this.progress.passes);
    return seconds === undefined ? {} : { estimatedDowntimeSeconds: seconds };
  }

  private onCutover(request: CutoverRequest | undefined): void {
    this.changed = true;
    if (request?.at === undefined) {
      this.progress.held = false;
      this.requestedNow = true;
      return;
    }
    const at = cutoverTimeSchema.safeParse(request.at);
    if (!at.success) {
      this.warnings.push(
        `a cutover signal's time '${String(request.at)}' is not an ISO 8601 time with a zone; ignored`,
      );
      return;
    }
    this.progress.held = false;
    this.requestedNow = false;
    this.progress.cutoverAt = at.data;
  }
}
