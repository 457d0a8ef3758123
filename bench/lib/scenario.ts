import type { Bench, Sample } from './context';
import { MB, median } from './stats';

/** One line of the table: a tool or baseline's medians over the run's samples. */
export interface Row {
  scenario: string;
  variant: string;
  kind: 'kvm-clone' | 'baseline' | 'info';
  /** Medians; undefined when the row was skipped. */
  seconds?: number;
  mbPerSecond?: number;
  logicalBytes?: number;
  wireBytes?: number;
  clientCpu?: number;
  hostCpu?: number;
  peakRssBytes?: number;
  peakHeapBytes?: number;
  /** Activity retries summed over the runs (workflow rows only). */
  retries?: number;
  /** e.g. "1.43× scp -3" */
  ratio?: number;
  ratioTo?: string;
  /** What the ratio means when it is not a speed-up (memory, bytes…). */
  ratioKind?: 'speed' | 'memory' | 'bytes' | 'seconds';
  target?: string;
  met?: boolean;
  note?: string;
  samples: Sample[];
}

export interface Scenario {
  id: string;
  title: string;
  /** Whether `--quick` runs it (scenarios that must wait out timeouts do not). */
  quick: boolean;
  run(bench: Bench): Promise<Row[]>;
}

export interface Variant {
  name: string;
  kind: Row['kind'];
  /** A reason instead of a measurement, e.g. a missing host-to-host trust. */
  skip?: string;
  measure(): Promise<Sample>;
}

/**
 * Runs every variant `runs` times, alternating them and rotating who goes first, so that
 * drift on a shared machine spreads evenly over the tool and its baselines.
 */
export async function alternate(
  bench: Bench,
  scenario: string,
  variants: Variant[],
  runs = bench.sizes.runs,
): Promise<Map<string, Sample[]>> {
  const samples = new Map<string, Sample[]>(variants.map((variant) => [variant.name, []]));
  const active = variants.filter((variant) => !variant.skip);
  for (let round = 0; round < runs; round++) {
    for (let i = 0; i < active.length; i++) {
      const variant = active[(i + round) % active.length]!;
      let sample: Sample;
      try {
        sample = await variant.measure();
      } catch (error) {
        // The lab is shared: a transient failure (e.g. a channel closed under load) is
        // repeated once and reported in the note; a second failure fails the scenario.
        bench.log(
          `  ${scenario} · ${variant.name} · run ${round + 1} failed, repeating once: ${(error as Error).message.slice(0, 200)}`,
        );
        sample = await variant.measure();
        sample.note = [sample.note, 'repeated after a transient failure'].filter(Boolean).join('; ');
      }
      samples.get(variant.name)!.push(sample);
      bench.log(
        `  ${scenario} · ${variant.name} · run ${round + 1}/${runs}: ${sample.seconds.toFixed(2)} s, ${(sample.logicalBytes / MB / sample.seconds).toFixed(0)} MB/s${sample.note ? ` (${sample.note})` : ''}`,
      );
    }
  }
  return samples;
}

function medianOf(samples: Sample[], pick: (sample: Sample) => number | undefined): number | undefined {
  const values = samples.map(pick).filter((value): value is number => value !== undefined && Number.isFinite(value));
  return values.length === 0 ? undefined : median(values);
}

/** A row of medians from a variant's samples. */
export function summarize(scenario: string, variant: Variant, samples: Sample[]): Row {
  if (variant.skip || samples.length === 0)
    return { scenario, variant: variant.name, kind: variant.kind, note: variant.skip ?? 'no samples', samples };
  const seconds = medianOf(samples, (s) => s.seconds)!;
  const logicalBytes = medianOf(samples, (s) => s.logicalBytes)!;
  return {
    scenario,
    variant: variant.name,
    kind: variant.kind,
    seconds,
    // Median of per-run throughputs, not bytes / median time: the same when sizes are equal.
    mbPerSecond: medianOf(samples, (s) => s.logicalBytes / MB / s.seconds),
    logicalBytes,
    wireBytes: medianOf(samples, (s) => s.wireBytes),
    clientCpu: medianOf(samples, (s) => s.clientCpu),
    hostCpu: medianOf(samples, (s) => s.hostCpu),
    peakRssBytes: medianOf(samples, (s) => s.peakRssBytes),
    peakHeapBytes: medianOf(samples, (s) => s.peakHeapBytes),
    ...(samples.some((s) => s.retries !== undefined)
      ? { retries: samples.reduce((sum, s) => sum + (s.retries ?? 0), 0) }
      : {}),
    samples,
  };
}

/** Speed ratio of a row against a baseline row: >1 means faster than the baseline. */
export function speedRatio(row: Row, baseline: Row | undefined): number | undefined {
  if (!baseline?.mbPerSecond || !row.mbPerSecond) return undefined;
  return row.mbPerSecond / baseline.mbPerSecond;
}

/** Sets ratio, target and verdict on `row`, against `baseline` (skipped baselines leave it open). */
export function judge(
  row: Row,
  baseline: Row | undefined,
  target?: { min?: number; max?: number; text: string },
): void {
  const ratio = speedRatio(row, baseline);
  if (ratio === undefined || !baseline) {
    if (target) row.target = target.text;
    if (baseline?.note && !row.note) row.note = `no ratio: ${baseline.variant} ${baseline.note}`;
    return;
  }
  row.ratio = ratio;
  row.ratioTo = baseline.variant;
  row.ratioKind = 'speed';
  if (target) {
    row.target = target.text;
    row.met = (target.min === undefined || ratio >= target.min) && (target.max === undefined || ratio <= target.max);
  }
}

export async function measureAll(
  bench: Bench,
  scenario: string,
  variants: Variant[],
  runs?: number,
): Promise<Map<string, Row>> {
  const samples = await alternate(bench, scenario, variants, runs);
  return new Map(variants.map((variant) => [variant.name, summarize(scenario, variant, samples.get(variant.name)!)]));
}
