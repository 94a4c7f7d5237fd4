/**
 * A warm container caches each table's columns. When the table changes under it (a column added for a new
 * field in the files), the first file that needs the change fails, and its retry, in the same container,
 * sees the table as it is now. chDB (ClickHouse 26.x), through the function's own event processing.
 */
import { describe, expect, it } from 'vitest';
import { processS3Event } from '../../functions/ingest/process-event.ts';
import { useEngineAndS3 } from '../fixtures/engine-and-s3.ts';
import { chdbEngine, dependencies, putObject, RecordingReporter, testConfig } from '../fixtures/loader.ts';
import { queryRows, uniqueName } from '../fixtures/tables.ts';

describe('a table changed while a container is warm, on chDB', () => {
  const bucket = 'landing';
  const ctx = useEngineAndS3(() => chdbEngine(), bucket);

  it('fails the first file that meets a changed table, and describes the table again for its retry', async () => {
    const table = uniqueName('schema_change');
    await ctx.engine.client.command({
      query: `CREATE TABLE ${table} (id UInt32, amount Float64) ${ctx.engine.mergeTree('id')}`,
    });
    const config = testConfig([{ prefix: 'in/', format: 'csv', table }]);
    // One set of dependencies, as a warm container keeps them.
    const deps = dependencies(ctx.engine, ctx.s3, config);
    const deliver = async (key: string, body: string) => {
      const event = await putObject(ctx.s3, bucket, key, body);
      const reporter = new RecordingReporter();
      await processS3Event(event, config, deps, reporter).catch(() => undefined);
      return { event, summary: reporter.files[0] };
    };

    expect((await deliver('in/first.csv', 'id,amount\n1,10\n')).summary?.status).toBe('loaded');
    await ctx.engine.client.command({ query: `ALTER TABLE ${table} ADD COLUMN colour String` });

    const second = await deliver('in/second.csv', 'id,amount,colour\n2,20,red\n');
    expect(second.summary).toMatchObject({ status: 'failed', errorCode: 'SCHEMA_MISMATCH' });
    const reporter = new RecordingReporter();
    await processS3Event(second.event, config, deps, reporter);
    expect(reporter.files[0]).toMatchObject({ status: 'loaded', rowsInserted: 1 });
    const rows = await queryRows<{ id: number; colour: string }>(
      ctx.engine.client,
      `SELECT id, colour FROM ${table} ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: 1, colour: '' },
      { id: 2, colour: 'red' },
    ]);

    // Then a column dropped: the warm container still names it. The file fails as a changed table instead of
    // rejecting every row; its retry sees the table as it is, and says which column the file has too many.
    await ctx.engine.client.command({ query: `ALTER TABLE ${table} DROP COLUMN colour` });
    const third = await deliver('in/third.csv', 'id,amount,colour\n3,30,blue\n4,40,green\n');
    expect(third.summary).toMatchObject({ status: 'failed', errorCode: 'SCHEMA_MISMATCH', rowsRejected: 0 });
    expect(third.summary?.reason).toMatch(/the table changed since chute described it/);
    const retried = new RecordingReporter();
    await processS3Event(third.event, config, deps, retried).catch(() => undefined);
    expect(retried.files[0]).toMatchObject({ status: 'failed', errorCode: 'SCHEMA_MISMATCH' });
    expect(retried.files[0]?.reason).toMatch(/colour/);
  });
});
