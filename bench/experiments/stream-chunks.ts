/**
 * An experiment for the next change to the hot path (BENCHMARKS.md, "What is left between chute and the
 * no-loader pipe"): the 1M-row clean CSV loaded by chute, by the no-loader pipe, by the ceiling, and by
 * `stream-chunks-client.ts` with 16 MiB and 8 MiB chunks, in alternated rounds against one server. Prints each
 * side's wall times and ClickHouse CPU per run, and flags a run that did not leave exactly 1,000,000 rows.
 *
 *   npx tsx bench/experiments/stream-chunks.ts      (RUNS=4 by default)
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundledOnce } from '../bundle.ts';
import { runCeiling } from '../ceiling.ts';
import { benchRoute, runChute } from '../chute.ts';
import { generateCsv, TABLE_COLUMNS } from '../data.ts';
import { cpuDelta, s3ClientEnv, startBenchEnv } from '../env.ts';
import { runNodeJson } from '../node-child.ts';
import { uploadFile } from '../objects.ts';
import { runPipe } from '../pipe.ts';
import { resetTables } from '../tables.ts';

const ROWS = 1_000_000;
const TABLE = 'experiment_t';
const RECORDS = 'experiment_log';
const client = bundledOnce(fileURLToPath(new URL('./stream-chunks-client.ts', import.meta.url)));

const env = await startBenchEnv((line) => console.error(line));
try {
  const file = await generateCsv({ path: join(env.tmp, 'data.csv'), rows: ROWS });
  const event = await uploadFile(env, 'p/data.csv', file.path);
  await env.sql(
    `CREATE TABLE IF NOT EXISTS ${RECORDS} (bucket String, key String, version String, record String) ENGINE = MergeTree ORDER BY (bucket, key, version)`,
  );
  const query = `INSERT INTO ${TABLE} FORMAT CSVWithNames`;
  const streamed = (chunkBytes: number) => async () => {
    const run = await runNodeJson<{ durationMs: number }>({
      what: 'stream-chunks process',
      args: [await client()],
      env: s3ClientEnv(),
      input: {
        endpoint: env.s3.endpoint,
        bucket: env.bucket,
        key: 'p/data.csv',
        url: env.clickhouse.url,
        table: TABLE,
        recordTable: RECORDS,
        chunkBytes,
      },
      timeoutMs: 300_000,
    });
    return run.durationMs;
  };
  const sides: Record<string, () => Promise<number>> = {
    ceiling: async () =>
      (await runCeiling({ clickhouseUrl: env.clickhouse.url, query, files: [file.path], timeoutMs: 300_000 }))
        .durationMs,
    pipe: async () =>
      (
        await runPipe({
          s3Endpoint: env.s3.endpoint,
          bucket: env.bucket,
          keys: ['p/data.csv'],
          clickhouseUrl: env.clickhouse.url,
          query,
          timeoutMs: 300_000,
        })
      ).durationMs,
    chute: async () =>
      (
        await runChute(env, {
          events: [event],
          config: { routes: [benchRoute('p/', TABLE, 'csv')] },
          timeoutMs: 300_000,
        })
      ).wallMs,
    'stream 16 MiB': streamed(16 * 1024 * 1024),
    'stream 8 MiB': streamed(8 * 1024 * 1024),
  };
  const names = Object.keys(sides);
  const results = new Map<string, string[]>();
  for (let round = 0; round < Number(process.env.RUNS ?? 4); round++) {
    for (const name of round % 2 === 1 ? [...names].reverse() : names) {
      await resetTables(env, TABLE, TABLE_COLUMNS);
      await env.sql(`TRUNCATE TABLE ${RECORDS}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const before = env.cpu();
      const wallMs = await (sides[name] as () => Promise<number>)();
      const serverMs = cpuDelta(before, env.cpu()).serverMs;
      const rows = Number((await env.sql(`SELECT count() FROM ${TABLE}`)).trim());
      const wrong = rows === ROWS ? '' : ` (${rows} rows!)`;
      results.set(name, [
        ...(results.get(name) ?? []),
        `${Math.round(wallMs)} ms, ClickHouse ${Math.round(serverMs)} ms${wrong}`,
      ]);
    }
  }
  for (const [name, runs] of results) console.log(`${name.padEnd(14)} ${runs.join(' | ')}`);
} finally {
  await env.stop();
}
