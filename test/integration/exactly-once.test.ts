/**
 * Exactly-once under faults, in the function's own code path (processS3Event, as the handler runs it) against
 * both real engines: chDB (ClickHouse 26.x, deduplication tokens) and the Debian 18.16 server (no tokens, so
 * at-least-once). Each scenario checks three things: the table holds the file's good rows exactly (or, where
 * the engine cannot promise that, exactly what the ledger accounts for), the rejects object is complete, and
 * the load history tells what happened. Process kills, server restarts and frozen sockets are in
 * exactly-once-processes.test.ts.
 */
import type { S3Event } from 'aws-lambda';
import { describe, expect, inject, it } from 'vitest';
import { S3ObjectStore } from '../../functions/core/adapters/s3-object-store.ts';
import type { ChuteConfig } from '../../functions/core/config/schema.ts';
import type { IngestDependencies } from '../../functions/core/pipeline/ingest-object.ts';
import type { FileSummary } from '../../functions/core/pipeline/summary.ts';
import { type EventContext, processS3Event } from '../../functions/ingest/process-event.ts';
import { useEngineAndS3 } from '../fixtures/engine-and-s3.ts';
import { clockRunningOutAfter } from '../fixtures/faults/clock.ts';
import { FAULT_TABLE_COLUMNS, type FaultFile, faultFile } from '../fixtures/faults/data.ts';
import { chunksOf, exactly, historyOf, idsOf, tableState } from '../fixtures/faults/ledger.ts';
import { rejectsAt } from '../fixtures/faults/rejects.ts';
import { startCuttingProxy } from '../fixtures/faults/tcp-proxy.ts';
import {
  chdbEngine,
  dependencies,
  type Engine,
  putObject,
  RecordingReporter,
  serverEngine,
  testConfig,
} from '../fixtures/loader.ts';
import { createS3rverClient } from '../fixtures/s3.ts';
import { uniqueName } from '../fixtures/tables.ts';

/** Small chunks, so that a 2,000-row file is about 25 chunks and a fault can land between two of them. */
const CHUNKING = { maxBytes: 2048 };

/** 2,000 rows; three bad ones, in the first chunk, in the middle and near the end. */
function standardFile(): FaultFile {
  return faultFile({ rows: 2000, extraField: [10], badAmount: [1000, 1990] });
}

interface EngineCase {
  open: () => Engine;
  /** Whether the engine has insert_deduplication_token (and the test tables deduplicate). */
  tokens: boolean;
}

const engines: [string, EngineCase][] = [
  ['chDB (ClickHouse 26.x)', { open: () => chdbEngine(), tokens: true }],
  ['clickhouse-server 18.16', { open: () => serverEngine(inject('clickhouseUrl')), tokens: false }],
];

describe.each(engines)('exactly-once under faults on %s', (_name, { open, tokens }) => {
  const bucket = 'landing';
  const delivery = tokens ? 'exactly-once' : 'at-least-once';
  const ctx = useEngineAndS3(open, bucket);

  async function setUp(file: FaultFile) {
    const table = uniqueName('exactly_once');
    await ctx.engine.client.command({
      query: `CREATE TABLE ${table} (${FAULT_TABLE_COLUMNS}) ${ctx.engine.mergeTree('id')}`,
    });
    const key = `in/${uniqueName('file')}.csv`;
    const config = testConfig([{ prefix: 'in/', format: 'csv', table }], { chunking: CHUNKING });
    const event = await putObject(ctx.s3, bucket, key, file.body);
    return { table, key, config, event };
  }

  async function deliver(
    event: S3Event,
    config: ChuteConfig,
    deps: IngestDependencies = dependencies(ctx.engine, ctx.s3, config),
    context: EventContext = {},
  ): Promise<{ summary: FileSummary; error: unknown }> {
    const reporter = new RecordingReporter();
    let error: unknown;
    try {
      await processS3Event(event, config, deps, reporter, context);
    } catch (caught) {
      error = caught;
    }
    const [summary] = reporter.files;
    if (summary === undefined) throw new Error(`no file summary (error: ${String(error)})`);
    return { summary, error };
  }

  /**
   * Every chunk but the last recorded exactly once (the last one's commit is the file's own history row), and the
   * records never account for more rows than the file has.
   */
  async function expectEachChunkRecordedOnce(key: string, file: FaultFile, chunks: number) {
    const records = await chunksOf(ctx.engine.client, bucket, key);
    expect(records.map((r) => r.chunk)).toEqual(Array.from({ length: chunks - 1 }, (_, i) => i));
    expect(records.reduce((sum, r) => sum + r.rows_inserted, 0)).toBeLessThan(file.goodIds.length);
    expect(records.reduce((sum, r) => sum + r.rows_rejected, 0)).toBeLessThanOrEqual(file.rejects.length);
  }

  it('skips the same event delivered again, leaving the table as it was', async () => {
    const file = standardFile();
    const { table, key, config, event } = await setUp(file);

    const first = await deliver(event, config);
    expect(first.error).toBeUndefined();
    expect(first.summary).toMatchObject({
      status: 'loaded',
      attempt: 1,
      delivery,
      rowsRead: 2000,
      rowsInserted: file.goodIds.length,
      rowsRejected: 3,
      chunksResumed: 0,
    });
    expect(first.summary.chunks).toBeGreaterThan(10);
    expect(await idsOf(ctx.engine.client, table)).toEqual(file.goodIds);

    const again = await deliver(event, config);
    expect(again.error).toBeUndefined();
    expect(again.summary).toMatchObject({
      status: 'skipped',
      skipCode: 'ALREADY_LOADED',
      attempt: 2,
      rowsInserted: 0,
    });
    expect(again.summary.reason).toMatch(/already loaded/);

    expect(await idsOf(ctx.engine.client, table)).toEqual(file.goodIds);
    expect(await rejectsAt(ctx.s3.client, first.summary.rejectsLocation)).toEqual(file.rejects);
    expect(await historyOf(ctx.engine.client, bucket, key)).toMatchObject([
      {
        attempt: 1,
        status: 'loaded',
        rows_inserted: file.goodIds.length,
        rows_rejected: 3,
        error: '',
        delivery,
      },
      { attempt: 2, status: 'skipped', rows_inserted: 0 },
    ]);
    await expectEachChunkRecordedOnce(key, file, first.summary.chunks);
  });

  it('handles the same event delivered twice at once', async () => {
    const file = standardFile();
    const { table, key, config, event } = await setUp(file);

    // Two invocations of the same event in parallel, each with its own clients, as two Lambda instances.
    const [a, b] = await Promise.all([
      deliver(event, config, dependencies(ctx.engine, ctx.s3, config)),
      deliver(event, config, dependencies(ctx.engine, ctx.s3, config)),
    ]);
    expect([a.error, b.error]).toEqual([undefined, undefined]);
    const history = await historyOf(ctx.engine.client, bucket, key);
    const records = await chunksOf(ctx.engine.client, bucket, key);
    const state = await tableState(ctx.engine.client, table);
    const loads = history.filter((row) => row.status === 'loaded');
    console.log(
      `${ctx.engine.name}, one event twice at once: statuses ${[a.summary.status, b.summary.status].join('+')}, ` +
        `history ${history.map((h) => `${h.attempt}:${h.status}`).join(', ')}, ` +
        `${records.length} chunk records for ${a.summary.chunks} chunks, table ${state.count} rows (${state.distinct} distinct) for ${file.goodIds.length} good rows`,
    );

    // Neither invocation saw the other finish: both report the file loaded, and the history has both.
    expect([a.summary.status, b.summary.status]).toEqual(['loaded', 'loaded']);
    expect(history.map((h) => h.status)).toEqual(['loaded', 'loaded']);
    expect(loads.every((row) => row.rows_inserted === file.goodIds.length && row.rows_rejected === 3)).toBe(
      true,
    );
    // Every chunk but the last recorded at least once, at most once by each invocation.
    const perChunk = new Map<number, number>();
    for (const r of records) perChunk.set(r.chunk, (perChunk.get(r.chunk) ?? 0) + 1);
    expect([...perChunk.keys()].sort((x, y) => x - y)).toEqual(
      Array.from({ length: a.summary.chunks - 1 }, (_, i) => i),
    );
    expect(Math.max(...perChunk.values())).toBeLessThanOrEqual(2);
    // Whichever engine: no good row is lost, no bad row lands, and the rejects are complete.
    expect(state.distinct).toBe(file.goodIds.length);
    expect(state.idSum).toBe(exactly(file.goodIds).idSum);
    expect(await rejectsAt(ctx.s3.client, a.summary.rejectsLocation)).toEqual(file.rejects);

    if (tokens) {
      // A second copy of an insert carries the first one's token: ClickHouse drops it. Exactly once.
      expect(state).toEqual(exactly(file.goodIds));
    } else {
      // 18.16 has no deduplication tokens: a chunk both invocations inserted is in the table twice (measured:
      // all of them, as neither sees the other's chunk records in time). What the README can promise there is
      // at-least-once: no row lost, at most one copy per delivery, and the ledger accounts for every copy in
      // the table (each invocation's chunk records, plus its last chunk, recorded by its history row).
      expect(state.count).toBeGreaterThanOrEqual(file.goodIds.length);
      expect(state.count).toBeLessThanOrEqual(2 * file.goodIds.length);
      const recorded = records.reduce((sum, r) => sum + r.rows_inserted, 0);
      const lastChunkRows = file.goodIds.length - recorded / loads.length;
      expect(state.count).toBe(recorded + loads.length * lastChunkRows);
      expect(loads.every((row) => row.delivery === 'at-least-once')).toBe(true);
    }
  });

  it('fails a file whose S3 body is cut mid-transfer, naming the object, and loads it exactly on retry', async () => {
    const file = standardFile();
    const { table, key, config, event } = await setUp(file);
    expect(file.body.length).toBeGreaterThan(40_000);
    // GETs go through a proxy that resets the first connection after 20,000 response bytes (headers
    // included: the SDK's send() succeeded, the body fails part-way, and nothing in the SDK retries that).
    const proxy = await startCuttingProxy(ctx.s3.endpoint, {
      cutAfterResponseBytes: 20_000,
      requestStartsWith: 'GET ',
    });
    const proxied = createS3rverClient(proxy.endpoint);
    try {
      const deps = { ...dependencies(ctx.engine, ctx.s3, config), objects: new S3ObjectStore(proxied) };
      const first = await deliver(event, config, deps);
      expect(proxy.cuts()).toBe(1);
      expect(first.summary.status).toBe('failed');
      expect(first.summary.rowsInserted).toBeGreaterThan(0);
      expect(first.summary.rowsInserted).toBeLessThan(file.goodIds.length);
      // The file's failure names the object and says it was a read failure, in the summary (the log line and
      // the ledger) as in the invocation's error. Soft: the retry below is checked whatever these say.
      const label = `s3://${bucket}/${key}`;
      expect(String(first.error)).toContain(label);
      expect.soft(first.summary.reason).toContain(label);
      expect.soft(first.summary.errorCode).toBe('OBJECT_READ_FAILED');
      const committed = await chunksOf(ctx.engine.client, bucket, key);
      expect(committed.length).toBeGreaterThan(0);

      const retry = await deliver(event, config, deps);
      expect(proxy.cuts()).toBe(1);
      expect(retry.error).toBeUndefined();
      expect(retry.summary).toMatchObject({
        status: 'loaded',
        attempt: 2,
        rowsRead: 2000,
        rowsInserted: file.goodIds.length,
        rowsRejected: 3,
        chunksResumed: committed.length,
      });
      expect(await tableState(ctx.engine.client, table)).toEqual(exactly(file.goodIds));
      expect(await rejectsAt(ctx.s3.client, retry.summary.rejectsLocation)).toEqual(file.rejects);
      const history = await historyOf(ctx.engine.client, bucket, key);
      expect(history.map((h) => [h.attempt, h.status])).toEqual([
        [1, 'failed'],
        [2, 'loaded'],
      ]);
      expect.soft(history[0]?.error).toContain(label);
      expect(history[0]?.rows_inserted).toBe(first.summary.rowsInserted);
      await expectEachChunkRecordedOnce(key, file, retry.summary.chunks);
    } finally {
      proxied.destroy();
      await proxy.stop();
    }
  });

  it('stops before a chunk when the time left drops below the headroom, and the retry resumes after it', async () => {
    const file = standardFile();
    const { table, key, config, event } = await setUp(file);
    const k = 5;
    // Chunk 0 holds a row ClickHouse refuses: its isolation looks at the clock twice more (once the chunk is
    // refused, and before the insert that leaves the row out).
    const clock = clockRunningOutAfter(k + 2);

    const first = await deliver(event, config, undefined, { remainingTimeMs: clock.remainingTimeMs });
    expect(first.summary).toMatchObject({ status: 'failed', errorCode: 'TIMEOUT_HEADROOM', attempt: 1 });
    expect(first.summary.reason).toMatch(/stopped before chunk 5 with 1000 ms left \(headroom 30000 ms\)/);
    expect(first.error).toMatchObject({ code: 'TIMEOUT_HEADROOM' });
    const partial = await chunksOf(ctx.engine.client, bucket, key);
    expect(partial.map((r) => r.chunk)).toEqual([0, 1, 2, 3, 4]);
    const partialRows = partial.reduce((sum, r) => sum + r.rows_inserted, 0);
    expect(first.summary.rowsInserted).toBe(partialRows);
    // What the first attempt committed is in the table, once: the table never holds more than the ledger says.
    expect((await tableState(ctx.engine.client, table)).count).toBe(partialRows);

    const retry = await deliver(event, config, undefined, { remainingTimeMs: () => 600_000 });
    expect(retry.error).toBeUndefined();
    expect(retry.summary).toMatchObject({
      status: 'loaded',
      attempt: 2,
      rowsRead: 2000,
      rowsInserted: file.goodIds.length,
      rowsRejected: 3,
      chunksResumed: k,
    });
    expect(await tableState(ctx.engine.client, table)).toEqual(exactly(file.goodIds));
    // Row 10's reject was found by the first attempt (chunk 0, resumed): re-emitted from the ledger.
    expect(await rejectsAt(ctx.s3.client, retry.summary.rejectsLocation)).toEqual(file.rejects);
    const history = await historyOf(ctx.engine.client, bucket, key);
    expect(history).toMatchObject([
      { attempt: 1, status: 'failed', rows_inserted: partialRows, delivery },
      {
        attempt: 2,
        status: 'loaded',
        rows_inserted: file.goodIds.length,
        rows_rejected: 3,
        error: '',
        delivery,
      },
    ]);
    expect(history[0]?.error).toMatch(/TIMEOUT|stopped before chunk 5/);
    await expectEachChunkRecordedOnce(key, file, retry.summary.chunks);
  });

  it('refuses to resume from chunks cut by other chunking settings, and resumes once they are restored', async () => {
    const file = standardFile();
    const { table, key, event } = await setUp(file);
    // A load history made by a chute that did not record how objects were cut: its _chunks table lacks `cut`
    // (moved aside to _chunks_v1 on first use, and read beside the new rows).
    const history = uniqueName('history');
    await ctx.engine.client.command({
      query: `CREATE TABLE ${history}_chunks (bucket String, key String, version String, chunk UInt32,
        rows_inserted UInt64, rows_rejected UInt64, rejects String, committed DateTime('UTC'))
        ENGINE = MergeTree ORDER BY (bucket, key, version, chunk)`,
    });
    const routes = [{ prefix: 'in/', format: 'csv' as const, table }];
    const config = testConfig(routes, { chunking: CHUNKING, ledger: { table: history } });
    const first = await deliver(event, config, undefined, {
      // Five chunks, and two more looks at the clock while chunk 0's refused row is isolated.
      remainingTimeMs: clockRunningOutAfter(7).remainingTimeMs,
    });
    expect(first.summary).toMatchObject({ status: 'failed', errorCode: 'TIMEOUT_HEADROOM' });
    const partial = await chunksOf(ctx.engine.client, bucket, key, `${history}_chunks`);
    expect(partial.map((r) => r.chunk)).toEqual([0, 1, 2, 3, 4]);
    const partialRows = (await tableState(ctx.engine.client, table)).count;

    // Chunks twice the size: chunk 3 would be other rows. Nothing is inserted.
    const wider = testConfig(routes, { chunking: { maxBytes: 4096 }, ledger: { table: history } });
    const refused = await deliver(event, wider, undefined, { remainingTimeMs: () => 600_000 });
    expect(refused.summary).toMatchObject({
      status: 'failed',
      errorCode: 'CHUNKING_CHANGED',
      rowsInserted: 0,
    });
    expect(refused.summary.reason).toMatch(
      /chunk\(s\) 0, 1, 2, 3, 4 cut by other rules \(then: .*maxBytes=2048.*; now: .*maxBytes=4096/,
    );
    expect((await tableState(ctx.engine.client, table)).count).toBe(partialRows);

    const restored = await deliver(event, config, undefined, { remainingTimeMs: () => 600_000 });
    expect(restored.summary).toMatchObject({
      status: 'loaded',
      chunksResumed: 5,
      rowsInserted: file.goodIds.length,
    });
    expect(await tableState(ctx.engine.client, table)).toEqual(exactly(file.goodIds));
    expect(await rejectsAt(ctx.s3.client, restored.summary.rejectsLocation)).toEqual(file.rejects);
  });
});
