import { parseConfig } from '../../functions/core/config/parse.ts';
import { benchRoute, runChute } from '../chute.ts';
import type { Context } from '../context.ts';
import { TABLE_COLUMNS } from '../data.ts';
import { MIB, type Stat, stat } from '../stats.ts';
import { resetTables } from '../tables.ts';
import { verifyChute } from '../verify.ts';

export const RSS_GROWTH_LIMIT_BYTES = 10 * MIB;

export interface WarmResult {
  kind: 'warm';
  id: 'warm';
  title: string;
  target: string;
  invocations: number;
  /** The invocation growth is measured from (100, or a tenth of a shorter run). */
  fromInvocation: number;
  rssAtFromBytes: number;
  rssAtLastBytes: number;
  growthBytes: number;
  /** Growth between medians of 21 invocations around each point: the same figure with GC noise damped. */
  growthSmoothedBytes: number;
  peakRssBytes: number;
  maxClickHouseSockets: number;
  configuredMaxSockets: number;
  connectionErrors: number;
  durationMs: Stat;
  /** RSS after every tenth invocation, in bytes (for a plot or a second look). */
  rssSeries: number[];
  met: boolean;
  failures: string[];
}

const CONNECTION_ERROR = /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up|other side closed/i;

/** One process, one invocation per small file in a row: what a busy warm container goes through. */
export async function warm(ctx: Context): Promise<WarmResult> {
  const { env, options, log } = ctx;
  const invocations = options.warmInvocations;
  log(`warm: ${invocations} invocations in one process`);
  const files = await ctx.data.smallFiles();
  const events = Array.from({ length: invocations }, (_, i) => files.events[i % files.events.length]).filter(
    (event) => event !== undefined,
  );
  const rows = Array.from({ length: invocations }, (_, i) => files.rows[i % files.rows.length] ?? 0).reduce(
    (sum, r) => sum + r,
    0,
  );
  const table = 'bench_warm';
  const route = benchRoute('small/', table, 'csv');
  const configuredMaxSockets = parseConfig({ clickhouse: { url: env.clickhouse.url }, routes: [route] })
    .clickhouse.maxOpenConnections;
  await resetTables(env, table, TABLE_COLUMNS);
  const run = await runChute(env, {
    events,
    config: { routes: [route] },
    timeoutMs: options.runTimeoutMs,
    sampleSockets: true,
  });
  const verdict = await verifyChute(
    env,
    { errors: run.run.errors, files: run.files },
    { table, files: invocations, cleanRows: rows, badLines: [] },
  );
  await env.sql(`DROP TABLE IF EXISTS ${table}`);

  const rss = run.run.rssAfterEach;
  const fromInvocation = Math.min(100, Math.max(1, Math.ceil(invocations / 10)));
  const at = (invocation: number) => rss[invocation - 1] ?? Number.NaN;
  const around = (invocation: number) =>
    stat(rss.slice(Math.max(0, invocation - 11), Math.min(rss.length, invocation + 10))).median;
  const lastWindow = stat(rss.slice(-21)).median;
  const connectionErrors =
    run.run.errors.filter((e) => CONNECTION_ERROR.test(e)).length +
    run.files.filter((f) => f.status !== 'loaded' && CONNECTION_ERROR.test(f.reason ?? '')).length;
  const maxSockets = run.run.clickhouseSockets?.max ?? Number.NaN;
  const growthBytes = at(invocations) - at(fromInvocation);
  const failures = [...verdict.failures];
  if (connectionErrors > 0) failures.push(`${connectionErrors} connection errors`);
  return {
    kind: 'warm',
    id: 'warm',
    title: `${invocations.toLocaleString('en-US')} warm invocations in one process (small files)`,
    target: `RSS growth ≤ 10 MiB from invocation ${fromInvocation} to ${invocations}; sockets ≤ configured maximum; no connection errors`,
    invocations,
    fromInvocation,
    rssAtFromBytes: at(fromInvocation),
    rssAtLastBytes: at(invocations),
    growthBytes,
    growthSmoothedBytes: lastWindow - around(fromInvocation),
    peakRssBytes: run.peakRssBytes,
    maxClickHouseSockets: maxSockets,
    configuredMaxSockets,
    connectionErrors,
    durationMs: stat(run.run.durationsMs),
    rssSeries: rss.filter((_, i) => (i + 1) % 10 === 0),
    met:
      failures.length === 0 &&
      growthBytes <= RSS_GROWTH_LIMIT_BYTES &&
      Number.isFinite(maxSockets) &&
      maxSockets <= configuredMaxSockets,
    failures,
  };
}
