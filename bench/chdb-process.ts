/**
 * The bench's chDB side: ClickHouse 26.x inside this process, and on each command from the bench either
 * chute's pipeline loading an object from the bench's s3rver into it (the code the handler and `npm start`
 * run, with exactly-once delivery, which 18.16 cannot give), or the ceiling, the same bytes in one INSERT.
 * One process serves a whole scenario: chDB holds one data directory per process and takes about 0.2 s to
 * load, a cost of neither side. Commands come over the IPC channel (see `bench/chdb.ts`).
 */
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Event } from 'aws-lambda';
import { createS3Client } from '../functions/core/adapters/s3-client.ts';
import { parseConfig } from '../functions/core/config/parse.ts';
import type { RouteInput } from '../functions/core/config/schema.ts';
import { s3IngestDependencies } from '../functions/core/pipeline/s3-dependencies.ts';
import type { FileSummary } from '../functions/core/pipeline/summary.ts';
import { processS3Event } from '../functions/ingest/process-event.ts';
import { openEmbeddedClickHouse } from '../functions/local/embedded-clickhouse.ts';
import { LEDGER_LOG } from './tables.ts';

export type ChdbCommand =
  | { op: 'reset'; table: string; columns: string }
  | { op: 'chute'; events: S3Event[]; route: RouteInput }
  | { op: 'ceiling'; table: string; format: string; files: string[] }
  | { op: 'count'; table: string }
  | { op: 'version' };

/** One measured load: wall and CPU of this process (chDB's threads included), and its peak RSS meanwhile. */
export interface ChdbRun {
  wallMs: number;
  cpuMs: number;
  peakRssBytes: number;
  summaries: FileSummary[];
  errors: string[];
}

export type ChdbReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

const endpoint = process.env.CHUTE_BENCH_S3_ENDPOINT;
if (endpoint === undefined) throw new Error('CHUTE_BENCH_S3_ENDPOINT is not set');
const dataDir = mkdtempSync(join(tmpdir(), 'chute-bench-chdb-'));
const clickhouse = await openEmbeddedClickHouse(dataDir);
const s3 = createS3Client({ endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });

async function sql(query: string): Promise<void> {
  await clickhouse.command({ query });
}

async function run(command: ChdbCommand): Promise<unknown> {
  switch (command.op) {
    case 'version': {
      const result = await clickhouse.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
      return ((await result.json<{ v: string }>())[0] as { v: string }).v;
    }
    case 'reset':
      await sql(`DROP TABLE IF EXISTS ${command.table}`);
      await sql(
        `CREATE TABLE ${command.table} ${command.columns} ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 1000`,
      );
      await sql(`TRUNCATE TABLE IF EXISTS ${LEDGER_LOG}`);
      return null;
    case 'count': {
      const result = await clickhouse.query({
        query: `SELECT count() AS n FROM ${command.table}`,
        format: 'JSONEachRow',
      });
      return Number(((await result.json<{ n: string }>())[0] as { n: string }).n);
    }
    case 'chute':
      return measure(async (errors) => {
        // A fresh configuration and fresh ports each run, as a cold container builds them: the capability
        // probe and the load history's tables are part of chute's time, as in the handler scenarios.
        const config = parseConfig(
          { clickhouse: { url: 'http://embedded' }, routes: [command.route] },
          'bench chDB route',
        );
        const deps = s3IngestDependencies(s3, clickhouse, config, 'default', { settingsInQuery: true });
        const summaries: FileSummary[] = [];
        const reporter = {
          file: (summary: FileSummary) => summaries.push(summary),
          unrouted: (_bucket: string, key: string, why: string) => errors.push(`${key} not routed: ${why}`),
          flush: () => undefined,
        };
        for (const event of command.events) {
          try {
            await processS3Event(event, config, deps, reporter);
          } catch (error) {
            errors.push(error instanceof Error ? error.message : String(error));
          }
        }
        return summaries;
      });
    case 'ceiling':
      return measure(async (errors) => {
        for (const file of command.files) {
          try {
            await clickhouse.exec({
              query: `INSERT INTO ${command.table} FORMAT ${command.format}`,
              values: createReadStream(file, { highWaterMark: 1024 * 1024 }),
            });
          } catch (error) {
            errors.push(error instanceof Error ? error.message : String(error));
          }
        }
        return [];
      });
  }
}

async function measure(load: (errors: string[]) => Promise<FileSummary[]>): Promise<ChdbRun> {
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const errors: string[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  try {
    const summaries = await load(errors);
    const wallMs = performance.now() - started;
    const spent = process.cpuUsage(cpu);
    peak = Math.max(peak, process.memoryUsage.rss());
    return { wallMs, cpuMs: (spent.user + spent.system) / 1000, peakRssBytes: peak, summaries, errors };
  } finally {
    clearInterval(sampler);
  }
}

process.on('message', (message: { id: number; command: ChdbCommand }) => {
  run(message.command).then(
    (result) => process.send?.({ id: message.id, ok: true, result } satisfies ChdbReply),
    (error: unknown) =>
      process.send?.({
        id: message.id,
        ok: false,
        error: error instanceof Error ? error.message : String(error),
      } satisfies ChdbReply),
  );
});
process.on('disconnect', () => {
  void clickhouse.close().finally(() => {
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
});
process.send?.({ id: 0, ok: true, result: 'ready' } satisfies ChdbReply);
