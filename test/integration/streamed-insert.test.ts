/**
 * Inserts that stream while their chunk fills, against both real engines and a real S3 server: a chunk whose
 * object read fails, or whose reading runs out of time, must commit nothing (its body is ended with bytes
 * ClickHouse refuses; 18.16 would commit a body that is merely cut off), and a row ClickHouse refuses while
 * the chunk is still being sent must be isolated like any other. CSV, TSV and NDJSON each have their own
 * poison, so each is checked.
 */
import { describe, expect, inject, it } from 'vitest';
import { S3ObjectStore } from '../../functions/core/adapters/s3-object-store.ts';
import type { DataFormat } from '../../functions/core/config/schema.ts';
import { ingestObject } from '../../functions/core/pipeline/ingest-object.ts';
import { decodeS3Event } from '../../functions/ingest/s3-event.ts';
import { useEngineAndS3 } from '../fixtures/engine-and-s3.ts';
import { FAULT_TABLE_COLUMNS, type FaultFile, faultFile } from '../fixtures/faults/data.ts';
import { chunksOf, exactly, tableState } from '../fixtures/faults/ledger.ts';
import { observedWarehouse, type StreamedBody } from '../fixtures/faults/observed-warehouse.ts';
import { startCuttingProxy } from '../fixtures/faults/tcp-proxy.ts';
import {
  chdbEngine,
  dependencies,
  type Engine,
  putObject,
  serverEngine,
  testConfig,
} from '../fixtures/loader.ts';
import { createS3rverClient } from '../fixtures/s3.ts';
import { uniqueName } from '../fixtures/tables.ts';

const engines: [string, () => Engine][] = [
  ['chDB (ClickHouse 26.x)', () => chdbEngine()],
  ['clickhouse-server 18.16', () => serverEngine(inject('clickhouseUrl'))],
];

/** The fault file's rows in another format; rows (and which are bad) stay the same. */
function inFormat(file: FaultFile, format: DataFormat): Buffer {
  if (format === 'csv') return file.body;
  const lines = file.body.toString('utf8').trimEnd().split('\n');
  if (format === 'tsv') return Buffer.from(`${lines.map((line) => line.replaceAll(',', '\t')).join('\n')}\n`);
  const records = lines.slice(1).map((line) => {
    const [id, customer, amount, ...rest] = line.split(',');
    // A fourth field stays a fourth key: with extraColumns "error" ClickHouse refuses the row.
    const extra = rest.length > 0 ? `,"extra":${JSON.stringify(rest.join(','))}` : '';
    const value = Number.isNaN(Number(amount)) ? JSON.stringify(amount) : amount;
    return `{"id":${id},"customer":${JSON.stringify(customer)},"amount":${value}${extra}}`;
  });
  return Buffer.from(`${records.join('\n')}\n`);
}

const POISON: Record<DataFormat, string> = { csv: '"a"b\n', tsv: '\\', ndjson: '{"' };

/** Exactly one streamed insert sent rows, then was ended with the format's poison. */
function expectRowsThenPoison(streamed: readonly StreamedBody[], format: DataFormat): void {
  const ended = streamed.filter((body) => body.last?.toString() === POISON[format]);
  expect(ended.length).toBe(1);
  expect(ended[0]?.bytesBeforeLast).toBeGreaterThan(0);
}

describe.each(engines)('streamed inserts on %s', (_name, open) => {
  const bucket = 'streamed';
  const ctx = useEngineAndS3(open, bucket);

  async function setUp(format: DataFormat, file: FaultFile, maxBytes: number, insertsInFlight = 1) {
    const table = uniqueName('streamed');
    await ctx.engine.client.command({
      query: `CREATE TABLE ${table} (${FAULT_TABLE_COLUMNS}) ${ctx.engine.mergeTree('id')}`,
    });
    const key = `in/${uniqueName('file')}.${format}`;
    const config = testConfig(
      [
        {
          prefix: 'in/',
          format,
          table,
          ...(format === 'ndjson' ? {} : { header: true }),
          delivery: 'at-least-once',
        },
      ],
      { chunking: { maxBytes, insertsInFlight } },
    );
    const event = await putObject(ctx.s3, bucket, key, inFormat(file, format));
    const [ref] = decodeS3Event(event).objects;
    if (ref === undefined) throw new Error('no object in the event');
    const route = config.routes[0];
    if (route === undefined) throw new Error('no route');
    return { table, key, config, ref, route };
  }

  it.each(['csv', 'tsv', 'ndjson'] as const)(
    '%s: an object read that fails inside a streaming chunk commits nothing of that chunk; the retry loads the file exactly',
    async (format) => {
      // About 210 KB in chunks of 64 KiB, streamed 8 KiB at a time: the read is cut at 100,000 bytes, inside the
      // second chunk, which streams.
      const file = faultFile({ rows: 3000, padding: 40 });
      const { table, key, config, ref, route } = await setUp(format, file, 64 * 1024);
      const proxy = await startCuttingProxy(ctx.s3.endpoint, {
        cutAfterResponseBytes: 100_000,
        requestStartsWith: 'GET ',
      });
      const proxied = createS3rverClient(proxy.endpoint);
      try {
        const real = dependencies(ctx.engine, ctx.s3, config);
        const watched = observedWarehouse(real.warehouse);
        const deps = { ...real, warehouse: watched.warehouse, objects: new S3ObjectStore(proxied) };
        const first = await ingestObject(deps, route, ref);
        expect(proxy.cuts()).toBe(1);
        expect(first).toMatchObject({ status: 'failed', errorCode: 'OBJECT_READ_FAILED' });
        expectRowsThenPoison(watched.streamed, format);
        const recorded = await chunksOf(ctx.engine.client, bucket, key);
        expect(recorded.length).toBeGreaterThan(0);
        const recordedRows = recorded.reduce((sum, chunk) => sum + chunk.rows_inserted, 0);
        expect(first.rowsInserted).toBe(recordedRows);
        expect(first.rowsInserted).toBeLessThan(file.goodIds.length);
        // The decisive check: the table holds the committed chunks and not a row of the chunk cut short.
        expect((await tableState(ctx.engine.client, table)).count).toBe(recordedRows);

        const retry = await ingestObject(dependencies(ctx.engine, ctx.s3, config), route, ref);
        expect(retry).toMatchObject({ status: 'loaded', rowsInserted: file.goodIds.length, rowsRejected: 0 });
        expect(await tableState(ctx.engine.client, table)).toEqual(exactly(file.goodIds));
      } finally {
        proxied.destroy();
        await proxy.stop();
      }
    },
  );

  it.each([
    ['csv', 1],
    ['tsv', 1],
    ['ndjson', 1],
    ['csv', 2],
  ] as const)(
    '%s, %i insert(s) in flight: a chunk still being read when its time runs out is given up at once, nothing of it committed; the retry loads the file exactly',
    async (format, insertsInFlight) => {
      // About 280 KB (NDJSON 400 KB) read at about 100 KB/s, in one chunk of 512 KiB (sent 64 KiB at a time),
      // which would close only at the end of the object, 2.8 s in. With 1.5 s left at every check and a 1 s
      // headroom, the chunk is given up 1.17 s after it starts (NDJSON's once its first 100 rows are in, to
      // plan its columns).
      const file = faultFile({ rows: 4000, padding: 40 });
      const { table, config, ref, route } = await setUp(format, file, 512 * 1024, insertsInFlight);
      const proxy = await startCuttingProxy(ctx.s3.endpoint, {
        cutAfterResponseBytes: 100_000_000,
        requestStartsWith: 'GET ',
        pace: { bytes: 2048, everyMs: 20 },
      });
      const proxied = createS3rverClient(proxy.endpoint);
      try {
        const real = dependencies(ctx.engine, ctx.s3, config);
        const watched = observedWarehouse(real.warehouse);
        const deps = { ...real, warehouse: watched.warehouse, objects: new S3ObjectStore(proxied) };
        const started = Date.now();
        const first = await ingestObject(deps, route, ref, { remainingTimeMs: () => 1500, headroomMs: 1000 });
        const tookMs = Date.now() - started;
        expect(first).toMatchObject({ status: 'failed', errorCode: 'TIMEOUT_HEADROOM' });
        expect(first.reason).toMatch(/stopped inside chunk \d+, which was still being read/);
        expectRowsThenPoison(watched.streamed, format);
        // The file ends when its chunk is given up, not when the chunk would have closed (2.8 s in).
        expect(tookMs).toBeLessThan(2500);
        // Everything committed was counted: nothing of the chunk given up is in the table.
        expect((await tableState(ctx.engine.client, table)).count).toBe(first.rowsInserted);
        expect(first.rowsInserted).toBeLessThan(file.goodIds.length);

        const retry = await ingestObject(dependencies(ctx.engine, ctx.s3, config), route, ref);
        expect(retry).toMatchObject({ status: 'loaded', rowsInserted: file.goodIds.length });
        expect(await tableState(ctx.engine.client, table)).toEqual(exactly(file.goodIds));
      } finally {
        proxied.destroy();
        await proxy.stop();
      }
    },
  );

  it.each(['csv', 'tsv', 'ndjson'] as const)(
    '%s: rows ClickHouse refuses while their chunk is still streaming are isolated, and every other row lands',
    async (format) => {
      const badAmount = [5, 700, 701, 2999];
      const extraField = [1500];
      const file = faultFile({ rows: 3000, padding: 40, badAmount, extraField });
      const { table, config, ref, route } = await setUp(format, file, 64 * 1024);
      const summary = await ingestObject(dependencies(ctx.engine, ctx.s3, config), route, ref);
      expect(summary).toMatchObject({
        status: 'loaded',
        rowsRead: 3000,
        rowsInserted: file.goodIds.length,
        rowsRejected: badAmount.length + extraField.length,
      });
      expect(await tableState(ctx.engine.client, table)).toEqual(exactly(file.goodIds));
    },
  );
});
