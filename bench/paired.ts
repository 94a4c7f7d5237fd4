import { type BenchEnv, type CpuSnapshot, cpuDelta } from './env.ts';
import { MB, type Stat, stat } from './stats.ts';

/** One measured run of one side, with the CPU each party spent meanwhile. */
export interface Sample {
  wallMs: number;
  peakRssBytes: number;
  /** CPU of the process doing the load: chute's handler process, or the ceiling client. */
  clientCpuMs: number;
  /** CPU of the ClickHouse server. */
  serverCpuMs: number;
  /** CPU of the bench process, which hosts the S3 server (idle during ceiling runs). */
  s3CpuMs: number;
  failures: string[];
}

export interface Work {
  /** Decompressed bytes of the source data. */
  bytes: number;
  /** Data rows of the source (bad ones included). */
  rows: number;
  files: number;
}

export interface SideSummary {
  wallMs: Stat;
  mbPerS: Stat;
  rowsPerS: Stat;
  filesPerS: Stat;
  /** The highest peak over the runs. */
  peakRssBytes: number;
  cpuMs: { client: Stat; server: Stat; s3: Stat };
}

export interface Paired {
  /** Pairs of runs made (fewer than asked when the scenario's time budget ran out). */
  runs: number;
  chute: SideSummary;
  ceiling: SideSummary;
  /** ceiling wall time / chute wall time, pair by pair: the share of the ceiling chute reaches. */
  ratio: Stat;
  failures: string[];
}

/**
 * Runs one side, or slice `slice` of its work; calls `loaded()` once the load is over, before its checks, so
 * checks cost no CPU in the figures.
 */
export type Side = (loaded: () => void, slice: number) => Promise<Omit<Sample, 'serverCpuMs' | 's3CpuMs'>>;

/**
 * Alternates chute and ceiling runs (the order swapped on every pair, so that a drift of the machine
 * favours neither), on a freshly created table each time. With `slices`, each run is measured slice by slice,
 * the two sides taking turns on every slice (the order swapped slice by slice too), and a run's sample sums its
 * slices: for work long enough that the machine drifts within one run (many small files here).
 */
export async function alternate(
  env: BenchEnv,
  options: {
    runs: number;
    /** No new pair starts if it would end past this many ms from the first (one pair always runs). */
    budgetMs: number;
    label: string;
    /** Slices each run is cut into (default 1: a run is one call of each side). */
    slices?: number;
    /** What the measured side is called in the log: chute, or the reference measured in its place. */
    subject?: string;
    prepare: () => Promise<void>;
    chute: Side;
    ceiling: Side;
  },
  log: (line: string) => void,
): Promise<{ chute: Sample[]; ceiling: Sample[] }> {
  const samples = { chute: [] as Sample[], ceiling: [] as Sample[] };
  const slices = options.slices ?? 1;
  const measure = async (side: 'chute' | 'ceiling', slice: number): Promise<Sample> => {
    await options.prepare();
    const before = env.cpu();
    let after: CpuSnapshot | undefined;
    let sample: Omit<Sample, 'serverCpuMs' | 's3CpuMs'>;
    try {
      sample = await options[side](() => {
        after = env.cpu();
      }, slice);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      sample = { wallMs: Number.NaN, peakRssBytes: Number.NaN, clientCpuMs: Number.NaN, failures: [message] };
    }
    const spent = cpuDelta(before, after ?? env.cpu());
    const failures =
      slices > 1
        ? sample.failures.map((failure) => `slice ${slice + 1}/${slices}: ${failure}`)
        : sample.failures;
    return { ...sample, failures, serverCpuMs: spent.serverMs, s3CpuMs: spent.s3Ms };
  };
  const started = Date.now();
  for (let i = 0; i < options.runs; i++) {
    const elapsed = Date.now() - started;
    if (i > 0 && (elapsed / i) * (i + 1) > options.budgetMs) {
      log(
        `  ${options.label}: ${i} of ${options.runs} runs (one more would pass the ${options.budgetMs / 1000} s budget)`,
      );
      break;
    }
    const runs = { chute: [] as Sample[], ceiling: [] as Sample[] };
    for (let slice = 0; slice < slices; slice++) {
      const order: ('chute' | 'ceiling')[] =
        (i + slice) % 2 === 0 ? ['chute', 'ceiling'] : ['ceiling', 'chute'];
      for (const side of order) runs[side].push(await measure(side, slice));
    }
    for (const side of ['chute', 'ceiling'] as const) {
      const full = sumSlices(runs[side]);
      samples[side].push(full);
      log(
        `  ${options.label} run ${i + 1}/${options.runs} ${(side === 'chute' ? (options.subject ?? side) : side).padEnd(9)} ${(full.wallMs / 1000).toFixed(2)} s` +
          (slices > 1 ? ` (${slices} slices)` : '') +
          (full.failures.length > 0 ? `  FAILED: ${full.failures.join('; ')}` : ''),
      );
    }
  }
  return samples;
}

/** One run's figures from its slices: times and CPU add up, the peak is the highest. */
function sumSlices(slices: readonly Sample[]): Sample {
  const sum = (pick: (s: Sample) => number) => slices.reduce((total, s) => total + pick(s), 0);
  return {
    wallMs: sum((s) => s.wallMs),
    peakRssBytes: Math.max(...slices.map((s) => s.peakRssBytes)),
    clientCpuMs: sum((s) => s.clientCpuMs),
    serverCpuMs: sum((s) => s.serverCpuMs),
    s3CpuMs: sum((s) => s.s3CpuMs),
    failures: slices.flatMap((s) => s.failures),
  };
}

/** `subject` names the measured side in failures: chute, or the reference measured in its place. */
export function summarise(
  samples: { chute: Sample[]; ceiling: Sample[] },
  work: Work,
  subject = 'chute',
): Paired {
  const ratios = samples.chute.map((chute, i) => {
    const ceiling = samples.ceiling[i];
    return ceiling === undefined ? Number.NaN : ceiling.wallMs / chute.wallMs;
  });
  return {
    runs: samples.chute.length,
    chute: side(samples.chute, work),
    ceiling: side(samples.ceiling, work),
    ratio: stat(ratios),
    failures: [
      ...samples.chute.flatMap((s) => s.failures.map((f) => `${subject}: ${f}`)),
      ...samples.ceiling.flatMap((s) => s.failures.map((f) => `ceiling: ${f}`)),
    ],
  };
}

function side(samples: Sample[], work: Work): SideSummary {
  const seconds = samples.map((s) => s.wallMs / 1000);
  return {
    wallMs: stat(samples.map((s) => s.wallMs)),
    mbPerS: stat(seconds.map((s) => work.bytes / MB / s)),
    rowsPerS: stat(seconds.map((s) => work.rows / s)),
    filesPerS: stat(seconds.map((s) => work.files / s)),
    peakRssBytes: Math.max(...samples.map((s) => (Number.isFinite(s.peakRssBytes) ? s.peakRssBytes : 0))),
    cpuMs: {
      client: stat(samples.map((s) => s.clientCpuMs)),
      server: stat(samples.map((s) => s.serverCpuMs)),
      s3: stat(samples.map((s) => s.s3CpuMs)),
    },
  };
}
