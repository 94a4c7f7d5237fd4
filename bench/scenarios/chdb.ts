import { setTimeout as sleep } from 'node:timers/promises';
import type { ChdbProcess } from '../chdb.ts';
import { startChdbProcess } from '../chdb.ts';
import type { Context } from '../context.ts';
import { TABLE_COLUMNS } from '../data.ts';
import { badCsvLoad, cleanCsvLoad } from './files.ts';
import {
  type ThroughputBackend,
  type ThroughputResult,
  type ThroughputSpec,
  throughputScenario,
} from './throughput.ts';

/**
 * The same files into chDB, the current ClickHouse engine, in a process of its own: what the 18.16 server
 * cannot show, chute's exactly-once path (deduplication tokens, chunk records, the INSERT's SETTINGS clause)
 * against one raw INSERT on the same engine. The issue sets no ratio for chDB: the verdict is correctness only
 * (every row, every bad row in rejects, exactly-once promised).
 */

export async function chdbCleanCsv(ctx: Context): Promise<ThroughputResult> {
  const data = await ctx.data.cleanCsv();
  return onChdb(ctx, {
    id: 'chdb-clean',
    title: `chDB, exactly-once: clean CSV, ${data.file.rows.toLocaleString('en-US')} rows`,
    target: 'every row loaded, exactly-once',
    table: 'bench_chdb_clean',
    ...cleanCsvLoad(data),
    engineInProcess: true,
  });
}

export async function chdbBadCsv(ctx: Context): Promise<ThroughputResult> {
  const data = await ctx.data.badCsv(10_000);
  return onChdb(ctx, {
    id: 'chdb-bad-1e4',
    title: `chDB, exactly-once: CSV, 1 bad row in 10,000 (${data.file.badLines.length.toLocaleString('en-US')} bad)`,
    target: 'every bad row in rejects, exactly-once',
    table: 'bench_chdb_bad',
    ...badCsvLoad(data, 10_000),
    engineInProcess: true,
  });
}

/** The scenario with both sides in one chDB child, started for it and stopped after it, however it ends. */
async function onChdb(ctx: Context, spec: ThroughputSpec): Promise<ThroughputResult> {
  const chdb = await startChdbProcess(ctx.env.s3.endpoint, ctx.env.tmp, ctx.options.runTimeoutMs);
  try {
    ctx.log(`${spec.id}: chDB ${chdb.version}, in a process of its own`);
    return await throughputScenario(ctx, spec, chdbBackend(chdb));
  } finally {
    await chdb.stop();
  }
}

/**
 * The child counts the table; rejects are read from the bench's s3rver as for the server scenarios. A file
 * loaded without the promise of exactly-once is a failure here: measuring that path is the point.
 */
function chdbBackend(chdb: ChdbProcess): ThroughputBackend {
  return {
    reset: async (table) => {
      await chdb.reset(table, TABLE_COLUMNS);
      await sleep(300); // as for the server: whatever the drop left running settles before the clock starts
    },
    count: (table) => chdb.count(table),
    drop: (table) => chdb.drop(table),
    chute: async (events, route, warmUp) => {
      if (warmUp !== undefined) throw new Error('the chDB child runs no warm-up file');
      const run = await chdb.chute({ events, route });
      const notExactlyOnce = run.summaries.filter(
        (s) => s.status === 'loaded' && s.delivery !== 'exactly-once',
      );
      return {
        ...run,
        outcome: { errors: run.errors, files: run.summaries },
        failures: notExactlyOnce.map(
          (s) => `${s.key}: loaded ${s.delivery ?? ''}, not exactly-once: ${s.deliveryNote ?? ''}`,
        ),
      };
    },
    ceiling: (files, table, format) => chdb.ceiling({ table, format, files }),
  };
}
