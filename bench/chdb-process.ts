/**
 * The bench's chDB side: ClickHouse 26.x inside this process, and on each command from the bench either
 * chute's pipeline loading an object from the bench's s3rver into it (the code the handler and `npm start`
 * run, with exactly-once delivery, which 18.16 cannot give), or the ceiling, the same bytes in one INSERT.
 * One process serves a whole scenario: chDB holds one data directory per process and takes about 0.2 s to
 * load, a cost of neither side. Commands come over the IPC channel (`chdb-protocol.ts`, `chdb.ts`).
 */
import { createReadStream, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createS3Client } from '../functions/core/adapters/s3-client.ts';
import { parseConfig } from '../functions/core/config/parse.ts';
import { s3IngestDependencies } from '../functions/core/pipeline/s3-dependencies.ts';
import type { FileSummary } from '../functions/core/pipeline/summary.ts';
import { processS3Event } from '../functions/ingest/process-event.ts';
import { openEmbeddedClickHouse } from '../functions/local/embedded-clickhouse.ts';
import { ownPeakRssBytes } from '../test/fixtures/peak-rss.ts';
import { CHDB_ENV, type ChdbCommand, type ChdbReply, type ChdbRun } from './chdb-protocol.ts';
import { resetStatements } from './tables.ts';

const endpoint = process.env[CHDB_ENV.s3Endpoint];
const dataDir = process.env[CHDB_ENV.dataDir];
if (endpoint === undefined || dataDir === undefined)
  throw new Error(`${CHDB_ENV.s3Endpoint} and ${CHDB_ENV.dataDir} must be set (see bench/chdb.ts)`);
const clickhouse = await openEmbeddedClickHouse(dataDir);
const s3 = createS3Client({ endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
// One untimed insert first, so that whichever side runs first does not pay the engine's first insert alone.
await clickhouse.command({ query: 'CREATE TABLE bench_warm_up (id UInt64) ENGINE = MergeTree ORDER BY id' });
await clickhouse.exec({ query: 'INSERT INTO bench_warm_up FORMAT CSV', values: Readable.from(['1\n2\n']) });
await clickhouse.command({ query: 'DROP TABLE bench_warm_up' });

async function sql(query: string): Promise<void> {
  await clickhouse.command({ query });
}

async function firstValue(query: string): Promise<string> {
  const rows = await (await clickhouse.query({ query, format: 'JSONEachRow' })).json<{ v: string }>();
  return (rows[0] as { v: string }).v;
}

async function run(command: ChdbCommand): Promise<unknown> {
  switch (command.op) {
    case 'version':
      return firstValue('SELECT version() AS v');
    case 'reset':
      // chDB is a current engine: its MergeTree tables take the deduplication window.
      for (const statement of resetStatements(command.table, command.columns, true)) await sql(statement);
      return null;
    case 'drop':
      await sql(`DROP TABLE IF EXISTS ${command.table}`);
      return null;
    case 'count':
      return Number(await firstValue(`SELECT count() AS v FROM ${command.table}`));
    case 'chute':
      return measure(async (errors) => {
        // A fresh configuration and fresh ports each run: the capability probe and the load history's tables
        // are part of chute's time, as in the handler scenarios' first call.
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

/**
 * Times one load. The two sides share this process, so what one run leaves behind should not be paid by the
 * next: a full collection first (chDB's connection holds a whole insert as one string), then the kernel's
 * high-water mark reset to the current RSS, so the peak read after is this run's, over a floor of whatever the
 * allocators still hold from earlier runs. (Without /proc, the peak is the process's whole life's.)
 */
async function measure(load: (errors: string[]) => Promise<FileSummary[]>): Promise<ChdbRun> {
  globalThis.gc?.();
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // not Linux: the peak below is then the process's whole life's
  }
  const errors: string[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  const summaries = await load(errors);
  const wallMs = performance.now() - started;
  const spent = process.cpuUsage(cpu);
  return {
    wallMs,
    cpuMs: (spent.user + spent.system) / 1000,
    peakRssBytes: ownPeakRssBytes(),
    summaries,
    errors,
  };
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
  void clickhouse.close().finally(() => process.exit(0));
});
process.send?.({ id: 0, ok: true, result: 'ready' } satisfies ChdbReply);
