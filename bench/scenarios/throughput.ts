import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Event } from 'aws-lambda';
import { runCeiling } from '../ceiling.ts';
import { benchRoute, runChute } from '../chute.ts';
import type { Context } from '../context.ts';
import { TABLE_COLUMNS } from '../data.ts';
import { alternate, type Paired, type Side, summarise, type Work } from '../paired.ts';
import { resetTables, tableCount } from '../tables.ts';
import { type LoadOutcome, verifyCeiling, verifyChute } from '../verify.ts';

/**
 * The many-file scenarios run in slices, each side's run sums one process per slice, and one pair of 2,000
 * files takes 2-3 minutes on this machine: with the common budget they got a single run, too few to take a median of.
 */
export const SLICED_BUDGET_FACTOR = 2.5;

interface SpecCommon {
  id: string;
  title: string;
  /** The target, as text, and the ratio it asks for (none: reported only). */
  target: string;
  minRatio?: number;
  /** What the ratio compares: bytes per second, or files per second for many small files. */
  basis: 'MB/s' | 'files/s';
  table: string;
  events: S3Event[];
  /** What the ceiling POSTs, and how. */
  ceiling: { files: string[]; format: 'CSVWithNames' | 'JSONEachRow' };
  work: Work;
  /** Bytes as stored in S3 (compressed, when it is). */
  storedBytes: number;
  cleanRows: number;
  badLines: readonly number[];
  /**
   * The files cut into slices that the two sides take turns on, a run summing its slices (see `alternate`); each
   * side's part of a slice is checked on its own. Undefined: a run is the whole work at once.
   */
  slices?: readonly FileSlice[];
  /**
   * ClickHouse runs inside the measured process (chDB), so each side's process CPU includes the engine's and
   * the server's column has nothing to show.
   */
  engineInProcess?: true;
  /** A file chute loads first in the same process, untimed (see WarmUp): the measured load is a warm one. */
  warmUp?: WarmUp;
}

/**
 * The first file of a warm container: loaded into a table of its own before the measured events, in the same
 * handler process, and left out of the timing, the process's CPU and the checks (but for having loaded); the
 * server's and s3rver's CPU columns include its few milliseconds. What it leaves is what a warm Lambda
 * container has: clients connected, the server's capabilities and the load history's tables known, the code it
 * ran compiled (not the scanner's hot loops, which a 2 KB file does not make hot).
 */
export interface WarmUp {
  readonly event: S3Event;
  readonly key: string;
  readonly route: { prefix: string; format: 'csv' | 'ndjson' };
  readonly table: string;
}

/** Part of a many-file scenario: its events, the ceiling's files and the object keys, and the rows they hold. */
export interface FileSlice {
  readonly events: S3Event[];
  readonly ceilingFiles: string[];
  readonly keys: string[];
  readonly rows: number;
}

/**
 * What is measured against the ceiling: chute's handler on a route, or, for a reference figure (a bound with no
 * target of its own), something `instead`.
 */
export type ThroughputSpec = SpecCommon &
  (
    | { route: { prefix: string; format: 'csv' | 'ndjson' }; instead?: undefined }
    | { route?: undefined; instead: Side }
  );

export interface ThroughputResult extends Paired {
  kind: 'throughput';
  id: string;
  title: string;
  target: string;
  minRatio?: number;
  basis: 'MB/s' | 'files/s';
  work: Work & { storedBytes: number; cleanRows: number; badRows: number };
  /** Bad rows found in rejects at their own line, the lowest over chute's runs. */
  rejectsFound?: number;
  /** Whether the target is met: correct in every run, and the median ratio at or above the target. */
  met: boolean;
  /** Not chute but a reference measured the same way (`instead`): reported, never judged. */
  reference?: true;
  engineInProcess?: true;
}

/** One measured run of either side, as its process took it. */
export interface SideRun {
  wallMs: number;
  peakRssBytes: number;
  cpuMs: number;
}

/**
 * Where a scenario's two sides run, and how its table is made fresh and counted: the bench's clickhouse-server
 * (`serverBackend`), or chDB in a process of its own (`chdbBackend`, scenarios/chdb.ts).
 */
export interface ThroughputBackend {
  /** A fresh, empty table and an empty load history: before every run. */
  reset(table: string): Promise<void>;
  count(table: string): Promise<number>;
  /** After the scenario. */
  drop(table: string): Promise<void>;
  /**
   * chute on `events`, its route loading into `table`, after `warmUp` when given (untimed); `failures` are the
   * backend's own checks.
   */
  chute(
    events: S3Event[],
    route: ReturnType<typeof benchRoute>,
    warmUp?: WarmUp,
  ): Promise<SideRun & { outcome: LoadOutcome; failures: string[] }>;
  /** The ceiling: each file in one insert into `table`. */
  ceiling(files: string[], table: string, format: string): Promise<SideRun & { errors: string[] }>;
}

/** Both sides in fresh node processes against the bench's clickhouse-server. */
export function serverBackend(ctx: Context): ThroughputBackend {
  const { env, options } = ctx;
  return {
    reset: async (table) => {
      await resetTables(env, table, TABLE_COLUMNS, ctx.log);
      // Let the server finish dropping the previous table's parts before the clock starts.
      await sleep(300);
    },
    count: (table) => tableCount(env, table),
    drop: async (table) => {
      await env.sql(`DROP TABLE IF EXISTS ${table}`);
    },
    chute: async (events, route, warmUp) => {
      if (warmUp === undefined) {
        const run = await runChute(env, {
          events,
          config: { routes: [route] },
          timeoutMs: options.runTimeoutMs,
        });
        return { ...run, outcome: { errors: run.run.errors, files: run.files }, failures: [] };
      }
      const run = await runChute(env, {
        events: [warmUp.event, ...events],
        config: {
          routes: [benchRoute(warmUp.route.prefix, warmUp.table, warmUp.route.format), route],
        },
        timeoutMs: options.runTimeoutMs,
      });
      const first = run.files.find((file) => file.key === warmUp.key);
      return {
        ...run,
        wallMs: run.run.durationsMs.slice(1).reduce((sum, ms) => sum + ms, 0),
        cpuMs: run.run.cpuMsEach.slice(1).reduce((sum, ms) => sum + ms, 0),
        outcome: { errors: run.run.errors, files: run.files.filter((file) => file !== first) },
        failures:
          first?.status === 'loaded'
            ? []
            : [`the warm-up file ${warmUp.key} was not loaded: ${first?.status ?? 'no summary'}`],
      };
    },
    ceiling: async (files, table, format) => {
      const run = await runCeiling({
        clickhouseUrl: env.clickhouse.url,
        query: `INSERT INTO ${table} FORMAT ${format}`,
        files,
        timeoutMs: options.runTimeoutMs,
      });
      return { wallMs: run.durationMs, peakRssBytes: run.peakRssBytes, cpuMs: run.cpuMs, errors: run.errors };
    },
  };
}

/** chute and the ceiling, alternated, each on a freshly created table; correctness checked after every run. */
export async function runThroughput(
  ctx: Context,
  spec: ThroughputSpec,
  backend: ThroughputBackend = serverBackend(ctx),
): Promise<Paired & { rejectsFound: number }> {
  const { env, options } = ctx;
  const expected = {
    table: spec.table,
    files: spec.events.length,
    cleanRows: spec.cleanRows,
    badLines: spec.badLines,
  };
  const count = (table: string) => backend.count(table);
  let rejectsFound = spec.badLines.length;
  const chuteOn =
    (route: { prefix: string; format: 'csv' | 'ndjson' }): Side =>
    async (loaded, slice) => {
      const part = spec.slices?.[slice];
      const run = await backend.chute(
        part?.events ?? spec.events,
        benchRoute(route.prefix, spec.table, route.format),
        spec.warmUp,
      );
      loaded();
      const verdict = await verifyChute(
        env,
        run.outcome,
        part === undefined ? expected : { ...expected, files: part.events.length, cleanRows: part.rows },
        count,
      );
      rejectsFound = Math.min(rejectsFound, verdict.rejectsFound);
      return {
        wallMs: run.wallMs,
        peakRssBytes: run.peakRssBytes,
        clientCpuMs: run.cpuMs,
        failures: [...verdict.failures, ...run.failures],
      };
    };
  const subject = spec.instead === undefined ? chuteOn(spec.route) : spec.instead;
  const subjectName = spec.instead === undefined ? 'chute' : 'no loader';
  const samples = await alternate(
    env,
    {
      runs: options.runs,
      budgetMs:
        spec.slices === undefined
          ? options.scenarioBudgetMs
          : options.scenarioBudgetMs * SLICED_BUDGET_FACTOR,
      label: spec.id,
      subject: subjectName,
      ...(spec.slices === undefined ? {} : { slices: spec.slices.length }),
      prepare: async () => {
        await backend.reset(spec.table);
        if (spec.warmUp !== undefined) await backend.reset(spec.warmUp.table);
      },
      chute: subject,
      ceiling: async (loaded, slice) => {
        const part = spec.slices?.[slice];
        const run = await backend.ceiling(
          part?.ceilingFiles ?? spec.ceiling.files,
          spec.table,
          spec.ceiling.format,
        );
        loaded();
        return {
          wallMs: run.wallMs,
          peakRssBytes: run.peakRssBytes,
          clientCpuMs: run.cpuMs,
          failures: await verifyCeiling(
            env,
            run.errors,
            { table: spec.table, cleanRows: part?.rows ?? spec.cleanRows },
            count,
          ),
        };
      },
    },
    ctx.log,
  );
  await backend.drop(spec.table);
  if (spec.warmUp !== undefined) await backend.drop(spec.warmUp.table);
  return {
    ...summarise(samples, spec.work, subjectName),
    rejectsFound,
  };
}

export async function throughputScenario(
  ctx: Context,
  spec: ThroughputSpec,
  backend?: ThroughputBackend,
): Promise<ThroughputResult> {
  ctx.log(`${spec.id}: ${spec.title}`);
  const { rejectsFound, ...paired } = await runThroughput(ctx, spec, backend);
  const ratioMet = spec.minRatio === undefined || paired.ratio.median >= spec.minRatio;
  return {
    kind: 'throughput',
    id: spec.id,
    title: spec.title,
    target: spec.target,
    ...(spec.minRatio === undefined ? {} : { minRatio: spec.minRatio }),
    basis: spec.basis,
    work: {
      ...spec.work,
      storedBytes: spec.storedBytes,
      cleanRows: spec.cleanRows,
      badRows: spec.badLines.length,
    },
    ...paired,
    ...(spec.badLines.length > 0 ? { rejectsFound } : {}),
    ...(spec.instead === undefined ? {} : { reference: true as const }),
    ...(spec.engineInProcess ? { engineInProcess: true as const } : {}),
    met: paired.failures.length === 0 && ratioMet,
  };
}
