import { setTimeout as sleep } from 'node:timers/promises';
import { startChdbProcess } from '../chdb.ts';
import { benchRoute } from '../chute.ts';
import type { Context } from '../context.ts';
import { TABLE_COLUMNS } from '../data.ts';
import { alternate, type Paired, summarise } from '../paired.ts';
import { verifyCeiling, verifyChute } from '../verify.ts';
import { type ThroughputResult, type ThroughputSpec, throughputScenario } from './throughput.ts';

/**
 * The same files into chDB, the current ClickHouse engine, in a process of its own: what the 18.16 server
 * cannot show, chute's exactly-once path (deduplication tokens, chunk records, the INSERT's SETTINGS clause)
 * against one raw INSERT on the same engine. The issue sets no ratio for chDB: the verdict is correctness only
 * (every row, every bad row in rejects, exactly-once promised).
 */

export async function chdbCleanCsv(ctx: Context): Promise<ThroughputResult> {
  const data = await ctx.data.cleanCsv();
  return throughputScenario(
    ctx,
    {
      id: 'chdb-clean',
      title: `chDB, exactly-once: clean CSV, ${data.file.rows.toLocaleString('en-US')} rows`,
      target: 'every row loaded, exactly-once',
      basis: 'MB/s',
      table: 'bench_chdb_clean',
      route: { prefix: 'clean/', format: 'csv' },
      events: [data.event],
      ceiling: { files: [data.file.path], format: 'CSVWithNames' },
      work: { bytes: data.file.bytes, rows: data.file.rows, files: 1 },
      storedBytes: data.file.bytes,
      cleanRows: data.file.rows,
      badLines: [],
      engineInProcess: true,
    },
    runOnChdb,
  );
}

export async function chdbBadCsv(ctx: Context): Promise<ThroughputResult> {
  const data = await ctx.data.badCsv(10_000);
  const clean = data.file.clean;
  if (clean === undefined) throw new Error('bad CSV generated without its clean twin');
  return throughputScenario(
    ctx,
    {
      id: 'chdb-bad-1e4',
      title: `chDB, exactly-once: CSV, 1 bad row in 10,000 (${data.file.badLines.length.toLocaleString('en-US')} bad)`,
      target: 'every bad row in rejects, exactly-once',
      basis: 'MB/s',
      table: 'bench_chdb_bad',
      route: { prefix: 'bad10000/', format: 'csv' },
      events: [data.event],
      ceiling: { files: [clean.path], format: 'CSVWithNames' },
      work: { bytes: data.file.bytes, rows: data.file.rows, files: 1 },
      storedBytes: data.file.bytes,
      cleanRows: clean.rows,
      badLines: data.file.badLines,
      engineInProcess: true,
    },
    runOnChdb,
  );
}

/**
 * Pairs as in `runThroughput`, but both sides run in one chDB process (`bench/chdb-process.ts`), which counts
 * the table too; rejects are read from the bench's s3rver as for the server scenarios. A chute run that did not
 * promise exactly-once is a failure here: measuring that path is the point.
 */
async function runOnChdb(ctx: Context, spec: ThroughputSpec): Promise<Paired & { rejectsFound: number }> {
  const { env, options } = ctx;
  const route = spec.route;
  if (route === undefined) throw new Error(`${spec.id}: a chDB scenario measures chute, not a reference`);
  const chdb = await startChdbProcess(env.s3.endpoint, options.runTimeoutMs);
  ctx.log(`  chDB ${chdb.version}, in a process of its own`);
  const count = (table: string) => chdb.count(table);
  const expected = {
    table: spec.table,
    files: spec.events.length,
    cleanRows: spec.cleanRows,
    badLines: spec.badLines,
  };
  let rejectsFound = spec.badLines.length;
  try {
    const samples = await alternate(
      env,
      {
        runs: options.runs,
        budgetMs: options.scenarioBudgetMs,
        label: spec.id,
        prepare: async () => {
          await chdb.reset(spec.table, TABLE_COLUMNS);
          await sleep(300);
        },
        chute: async (loaded) => {
          const run = await chdb.chute({
            events: spec.events,
            route: benchRoute(route.prefix, spec.table, route.format),
          });
          loaded();
          const verdict = await verifyChute(
            env,
            { errors: run.errors, files: run.summaries },
            expected,
            count,
          );
          rejectsFound = Math.min(rejectsFound, verdict.rejectsFound);
          // A failed file is already a failure above; a loaded one must have been loaded exactly-once.
          const notExactlyOnce = run.summaries.filter(
            (s) => s.status !== 'failed' && s.delivery !== 'exactly-once',
          );
          return {
            wallMs: run.wallMs,
            peakRssBytes: run.peakRssBytes,
            clientCpuMs: run.cpuMs,
            failures: [
              ...verdict.failures,
              ...notExactlyOnce.map(
                (s) => `${s.key}: ${s.status} ${s.delivery ?? ''}, not exactly-once: ${s.deliveryNote ?? ''}`,
              ),
            ],
          };
        },
        ceiling: async (loaded) => {
          const run = await chdb.ceiling({
            table: spec.table,
            format: spec.ceiling.format,
            files: spec.ceiling.files,
          });
          loaded();
          return {
            wallMs: run.wallMs,
            peakRssBytes: run.peakRssBytes,
            clientCpuMs: run.cpuMs,
            failures: await verifyCeiling(
              env,
              run.errors,
              { table: spec.table, cleanRows: spec.cleanRows },
              count,
            ),
          };
        },
      },
      ctx.log,
    );
    return { ...summarise(samples, spec.work), rejectsFound };
  } finally {
    await chdb.stop();
  }
}
