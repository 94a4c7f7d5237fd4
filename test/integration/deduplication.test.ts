/**
 * Exactly-once is only promised on a table that remembers enough tokens: chDB (ClickHouse 26.x), whose plain
 * MergeTree tables deduplicate only with `non_replicated_deduplication_window` set. (ReplicatedMergeTree needs a
 * Keeper, which neither engine here has: its `replicated_deduplication_window` is read the same way, from the
 * table's settings or the server's default; test/unit/preflight.test.ts holds the decision to the window.)
 */
import { describe, expect, it } from 'vitest';
import { ClickHouseWarehouse } from '../../functions/core/clickhouse/warehouse.ts';
import { minimumDedupWindow } from '../../functions/core/pipeline/preflight.ts';
import { processS3Event } from '../../functions/ingest/process-event.ts';
import { useEngineAndS3 } from '../fixtures/engine-and-s3.ts';
import { chdbEngine, dependencies, putObject, RecordingReporter, testConfig } from '../fixtures/loader.ts';
import { uniqueName } from '../fixtures/tables.ts';

/** What a retry may send again at the default chunking (insertsInFlight + 2). */
const NEEDED = minimumDedupWindow(testConfig([{ prefix: 'in/', format: 'csv', table: 't' }]).chunking);

describe('the deduplication window, on chDB', () => {
  const bucket = 'landing';
  const ctx = useEngineAndS3(() => chdbEngine(), bucket);

  async function tableWith(settings: string): Promise<string> {
    const table = uniqueName('dedup_window');
    await ctx.engine.client.command({
      query: `CREATE TABLE ${table} (id UInt32, amount Float64) ENGINE = MergeTree ORDER BY id ${settings}`,
    });
    return table;
  }

  it('reads the window from the table, else from the server default (0 for a plain MergeTree)', async () => {
    const warehouse = new ClickHouseWarehouse(ctx.engine.client, ctx.engine.warehouse);
    const plain = await tableWith('');
    const five = await tableWith('SETTINGS non_replicated_deduplication_window = 5');
    expect(await warehouse.deduplication({ database: 'default', table: plain })).toEqual({
      window: 0,
      engine: 'MergeTree',
    });
    expect(await warehouse.deduplication({ database: 'default', table: five })).toEqual({
      window: 5,
      engine: 'MergeTree',
    });
  });

  it.each([
    ['no window', '', /does not deduplicate inserts/],
    [
      'a window smaller than a retry may resend',
      `SETTINGS non_replicated_deduplication_window = ${NEEDED - 1}`,
      new RegExp(
        `remembers only the last ${NEEDED - 1} inserts' tokens, fewer than the ${NEEDED} a retry may send again`,
      ),
    ],
  ])(
    'refuses exactly-once on a table with %s, and loads it when the route accepts at-least-once',
    async (_, settings, why) => {
      const table = await tableWith(settings);
      const csv = 'id,amount\n1,10\n2,20\n';
      for (const delivery of ['exactly-once', 'at-least-once'] as const) {
        const config = testConfig([{ prefix: 'in/', format: 'csv', table, delivery }]);
        const event = await putObject(ctx.s3, bucket, `in/${uniqueName('f')}.csv`, csv);
        const reporter = new RecordingReporter();
        await processS3Event(event, config, dependencies(ctx.engine, ctx.s3, config), reporter).catch(
          () => undefined,
        );
        const [summary] = reporter.files;
        if (delivery === 'exactly-once') {
          expect(summary).toMatchObject({ status: 'failed', errorCode: 'DEDUP_NOT_ENABLED' });
          expect(summary?.reason).toMatch(why);
          expect(summary?.reason).toMatch(/MODIFY SETTING non_replicated_deduplication_window = 1000/);
        } else {
          expect(summary).toMatchObject({ status: 'loaded', delivery: 'at-least-once', rowsInserted: 2 });
          expect(summary?.deliveryNote).toMatch(why);
        }
      }
    },
  );

  it('promises exactly-once from a window of insertsInFlight + 2', async () => {
    expect(NEEDED).toBe(4);
    const table = await tableWith(`SETTINGS non_replicated_deduplication_window = ${NEEDED}`);
    const config = testConfig([{ prefix: 'in/', format: 'csv', table }]);
    const event = await putObject(ctx.s3, bucket, `in/${uniqueName('f')}.csv`, 'id,amount\n1,10\n');
    const reporter = new RecordingReporter();
    await processS3Event(event, config, dependencies(ctx.engine, ctx.s3, config), reporter);
    expect(reporter.files[0]).toMatchObject({ status: 'loaded', delivery: 'exactly-once' });
  });
});
