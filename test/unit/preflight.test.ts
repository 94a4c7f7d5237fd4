import type { ClickHouseClient } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import { ClickHouseWarehouse } from '../../functions/core/clickhouse/warehouse.ts';
import { parseRoute } from '../../functions/core/config/parse.ts';
import { decideDelivery, minimumDedupWindow } from '../../functions/core/pipeline/preflight.ts';
import type { Deduplication, ServerCapabilities, Warehouse } from '../../functions/core/ports/warehouse.ts';

const TABLE = { database: 'shop', table: 'orders' };
const WHERE = 's3://landing/in/a.csv';
const WITH_TOKENS = { dedupToken: true, version: '24.8.1' } as ServerCapabilities;

function route(delivery?: 'exactly-once' | 'at-least-once') {
  return parseRoute({ table: 'shop.orders', format: 'csv', ...(delivery ? { delivery } : {}) }, 'route');
}

function warehouseWith(deduplication: Deduplication): Warehouse {
  return { deduplication: async () => deduplication } as unknown as Warehouse;
}

/** A client that answers the two queries the window is read with: the table's engine, the server's default. */
function clientAnswering(engine: string, engineFull: string, serverDefault: string | undefined) {
  const asked: string[] = [];
  const client = {
    query: async ({ query }: { query: string }) => {
      asked.push(query);
      const rows = query.includes('system.tables')
        ? [{ engine, engine_full: engineFull }]
        : serverDefault === undefined
          ? []
          : [{ value: serverDefault }];
      return { json: async () => rows };
    },
  };
  return { client: client as unknown as ClickHouseClient, asked };
}

describe('the deduplication window a table is read to have', () => {
  it.each([
    ['ReplicatedMergeTree', "ReplicatedMergeTree('/t', 'r') ORDER BY id", '1000', 1000],
    [
      'ReplicatedMergeTree',
      "ReplicatedMergeTree('/t', 'r') ORDER BY id SETTINGS non_replicated_deduplication_window = 5, replicated_deduplication_window = 0",
      '1000',
      0,
    ],
    [
      'SharedMergeTree',
      'SharedMergeTree ORDER BY id SETTINGS replicated_deduplication_window = 7',
      '1000',
      7,
    ],
    ['MergeTree', 'MergeTree ORDER BY id SETTINGS replicated_deduplication_window = 100', '0', 0],
    ['MergeTree', 'MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 9', '0', 9],
    ['MergeTree', 'MergeTree ORDER BY id', undefined, 0],
    ['Distributed', "Distributed('c', 'db', 't')", '1000', 0],
  ])('%s (%s): %i', async (engine, engineFull, serverDefault, window) => {
    const { client } = clientAnswering(engine, engineFull, serverDefault);
    const found = await new ClickHouseWarehouse(client).deduplication(TABLE);
    expect(found).toEqual({ window, engine });
  });

  it('asks the server for the default of the setting the engine uses', async () => {
    const replicated = clientAnswering('ReplicatedMergeTree', 'ReplicatedMergeTree ORDER BY id', '100');
    await new ClickHouseWarehouse(replicated.client).deduplication(TABLE);
    expect(replicated.asked[1]).toMatch(/name = 'replicated_deduplication_window'/);
    const plain = clientAnswering('MergeTree', 'MergeTree ORDER BY id', '0');
    await new ClickHouseWarehouse(plain.client).deduplication(TABLE);
    expect(plain.asked[1]).toMatch(/name = 'non_replicated_deduplication_window'/);
  });
});

describe('decideDelivery', () => {
  const minimum = minimumDedupWindow({ insertsInFlight: 1 });

  it('asks for a window that covers what a retry may send again: the chunks in flight and one more', () => {
    expect(minimum).toBe(3);
    expect(minimumDedupWindow({ insertsInFlight: 4 })).toBe(6);
  });

  it('promises exactly-once from that window up', async () => {
    const decision = await decideDelivery(
      warehouseWith({ window: 3, engine: 'MergeTree' }),
      TABLE,
      route(),
      WITH_TOKENS,
      WHERE,
      minimum,
    );
    expect(decision).toEqual({ delivery: 'exactly-once', note: undefined });
  });

  it.each([
    [
      0,
      'ReplicatedMergeTree',
      /does not deduplicate inserts.*MODIFY SETTING replicated_deduplication_window = 1000,/,
    ],
    [
      2,
      'MergeTree',
      /remembers only the last 2 inserts' tokens, fewer than the 3.*non_replicated_deduplication_window/,
    ],
  ])('refuses a window of %i on %s, saying what to run', async (window, engine, message) => {
    const deciding = decideDelivery(
      warehouseWith({ window, engine }),
      TABLE,
      route(),
      WITH_TOKENS,
      WHERE,
      minimum,
    );
    await expect(deciding).rejects.toMatchObject({
      code: 'DEDUP_NOT_ENABLED',
      message: expect.stringMatching(message),
    });
  });

  it('loads at-least-once, and says why, when the route chose it', async () => {
    const decision = await decideDelivery(
      warehouseWith({ window: 0, engine: 'MergeTree' }),
      TABLE,
      route('at-least-once'),
      WITH_TOKENS,
      WHERE,
      minimum,
    );
    expect(decision.delivery).toBe('at-least-once');
    expect(decision.note).toMatch(/shop\.orders \(MergeTree\) does not deduplicate inserts; the route chose/);
  });
});
