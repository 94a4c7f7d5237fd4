import { Readable } from 'node:stream';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Event } from 'aws-lambda';
import { describe, expect, inject, it } from 'vitest';
import { useEngineAndS3 } from '../fixtures/engine-and-s3.ts';
import { serverEngine } from '../fixtures/loader.ts';
import { runHandlerProcess } from '../fixtures/run-handler.ts';
import { queryRows, uniqueName } from '../fixtures/tables.ts';

const TARGET_BYTES = 300 * 1024 * 1024;
/**
 * Peak RSS of the handler's own process, far below the file's size: measured 117 MB here for 335 MB with two inserts in flight (96 with one). The bound
 * is the performance issue's 150 MB target. (Until the harness read VmHWM, the kernel's maxRSS carried this
 * test worker's own 147 MB into the child across exec, and the bound had to be 175 MB.)
 */
const RSS_BOUND_BYTES = 150 * 1024 * 1024;

/** CSV generated as it is read: nothing of it is ever committed or held whole. */
function generatedCsv(rows: number): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (i === 0) this.push('id,customer,amount,note\n');
      const lines: string[] = [];
      for (let n = 0; n < 5000 && i < rows; n++, i++) {
        lines.push(
          `${i},"customer ${i % 9973}, ""quoted""",${(i % 100000) / 100},note for row ${i} ${'x'.repeat(i % 40)}`,
        );
      }
      this.push(lines.length > 0 ? `${lines.join('\n')}\n` : null);
    },
  });
}

describe('a streamed file of several hundred MB, through the real handler in its own process', () => {
  const rows = Math.floor(TARGET_BYTES / 75);
  const ctx = useEngineAndS3(() => serverEngine(inject('clickhouseUrl')), 'big');

  it('loads every row while peak RSS stays under a fixed bound', async () => {
    const table = uniqueName('big');
    await ctx.engine.client.command({
      query: `CREATE TABLE ${table} (id UInt64, customer String, amount Float64, note String) ${ctx.engine.mergeTree('id')}`,
    });
    const events: S3Event[] = [];
    const unsubscribe = ctx.s3.onEvent((event) => events.push(event));
    await new Upload({
      client: ctx.s3.client,
      params: { Bucket: 'big', Key: 'in/big.csv', Body: generatedCsv(rows) },
      partSize: 16 * 1024 * 1024,
      queueSize: 1,
    }).done();
    unsubscribe();
    const event = events.at(-1);
    expect(event).toBeDefined();

    const run = await runHandlerProcess({
      events: [event as S3Event],
      config: { routes: [{ prefix: 'in/', format: 'csv', table }] },
      clickhouseUrl: inject('clickhouseUrl'),
      s3Endpoint: ctx.s3.endpoint,
    });
    expect(run.errors).toEqual([]);
    const summary = run.logs.find((line) => line.message === 'file loaded');
    expect(summary).toMatchObject({ status: 'loaded', rowsRead: rows, rowsInserted: rows, rowsRejected: 0 });
    expect(Number(summary?.bytesDecompressed)).toBeGreaterThan(250 * 1024 * 1024);
    const [count] = await queryRows<{ c: string }>(ctx.engine.client, `SELECT count() AS c FROM ${table}`);
    expect(Number(count?.c)).toBe(rows);
    console.log(
      `large file: ${(Number(summary?.bytesDecompressed) / 1048576).toFixed(0)} MB, ${rows} rows in ${summary?.durationMs} ms; ` +
        `handler process peak RSS ${(run.peakRssBytes / 1048576).toFixed(0)} MB`,
    );
    expect(run.peakRssBytes).toBeLessThan(RSS_BOUND_BYTES);
    await ctx.engine.client.command({ query: `DROP TABLE ${table}` });
  });
});
