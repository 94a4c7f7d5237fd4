/**
 * The load history's layout on both real engines: one narrow `_log` table, the two views people query, and the
 * upgrade from the layout chute had before (two wide tables), renamed aside and still read.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ClickHouseLedger } from '../../functions/core/clickhouse/ledger.ts';
import type { LedgerEntry, VersionKey } from '../../functions/core/ports/ledger.ts';
import { chdbEngine, type Engine, serverEngine } from '../fixtures/loader.ts';
import { queryRows, uniqueName } from '../fixtures/tables.ts';

const engines: [string, () => Engine][] = [
  ['chDB (ClickHouse 26.x)', () => chdbEngine()],
  ['clickhouse-server 18.16', () => serverEngine(inject('clickhouseUrl'))],
];

/** Text a view must give back exactly: quotes, a backslash, line breaks, a tab, non-ASCII, a key-like string. */
const AWKWARD = 'bad "quote" \\ back\nslash\r\ttab é 🚀 "status":"loaded"';

function entry(version: VersionKey, overrides: Partial<LedgerEntry> = {}): LedgerEntry {
  return {
    ...version,
    size: 1234,
    route: 'in/',
    table: 'db.t',
    status: 'failed',
    rowsInserted: 7,
    rowsRejected: 2,
    rejectsLocation: 's3://b/chute-rejects/x',
    attempt: 1,
    started: new Date('2026-11-27T10:00:00Z'),
    finished: new Date('2026-11-27T10:00:05Z'),
    error: AWKWARD,
    delivery: 'at-least-once',
    ...overrides,
  };
}

describe.each(engines)('the load history on %s', (_name, open) => {
  let engine: Engine;
  beforeAll(() => {
    engine = open();
  });
  afterAll(async () => {
    await engine.close();
  });

  const ledgerOn = (table: string) =>
    new ClickHouseLedger(engine.client, { database: 'default', table }, async () => false);

  it('writes one narrow table and shows attempts and chunks through views with the documented columns', async () => {
    const name = uniqueName('history');
    const ledger = ledgerOn(name);
    const version = { bucket: 'b', key: 'in/a "quoted" key.csv', version: 'v1' };
    const rejected = [{ line: 3, row: 2, reason: AWKWARD, raw: '2,"x",\\' }];
    await ledger.recordChunk(version, { chunk: 0, rowsInserted: 5, rejected, cut: 'csv/8MiB' });
    await ledger.record(entry(version));

    const columns = await queryRows<{ name: string; type: string }>(
      engine.client,
      `SELECT name, type FROM system.columns WHERE database = 'default' AND table = '${name}_log'`,
    );
    expect(columns.map((column) => column.name)).toEqual(['bucket', 'key', 'version', 'record']);

    const [attempt, ...moreAttempts] = await queryRows<Record<string, unknown>>(
      engine.client,
      `SELECT * FROM ${name}`,
    );
    expect(moreAttempts).toEqual([]);
    expect(attempt).toMatchObject({
      bucket: 'b',
      key: version.key,
      version: 'v1',
      route: 'in/',
      table: 'db.t',
      status: 'failed',
      rejects_location: 's3://b/chute-rejects/x',
      attempt: 1,
      started: '2026-11-27 10:00:00',
      finished: '2026-11-27 10:00:05',
      error: AWKWARD,
      delivery: 'at-least-once',
    });
    // UInt64 comes back as a string in JSON: compare as numbers.
    expect(Number(attempt?.size)).toBe(1234);
    expect(Number(attempt?.rows_inserted)).toBe(7);
    expect(Number(attempt?.rows_rejected)).toBe(2);

    const chunks = await queryRows<Record<string, unknown>>(engine.client, `SELECT * FROM ${name}_chunks`);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatchObject({ key: version.key, chunk: 0, cut: 'csv/8MiB' });
    expect(Number(chunks[0]?.rows_inserted)).toBe(5);
    expect(JSON.parse(String(chunks[0]?.rejects))).toEqual(rejected);

    const prior = await ledgerOn(name).prior(version);
    expect(prior).toMatchObject({ attempts: 1, loaded: false });
    expect(prior.committed.get(0)).toEqual({ chunk: 0, rowsInserted: 5, rejected, cut: 'csv/8MiB' });
  });

  it('keeps reading a history made in the old two-table layout: renamed aside, in the views and in prior()', async () => {
    const name = uniqueName('history');
    await engine.client.command({
      query: `CREATE TABLE ${name} (
        bucket String, key String, version String, size UInt64, route String, table String,
        status String, rows_inserted UInt64, rows_rejected UInt64, rejects_location String,
        attempt UInt32, started DateTime('UTC'), finished DateTime('UTC'), error String, delivery String
      ) ENGINE = MergeTree ORDER BY (bucket, key, version, started)`,
    });
    // The oldest `_chunks` had no `cut` column.
    await engine.client.command({
      query: `CREATE TABLE ${name}_chunks (bucket String, key String, version String, chunk UInt32,
        rows_inserted UInt64, rows_rejected UInt64, rejects String, committed DateTime('UTC'))
        ENGINE = MergeTree ORDER BY (bucket, key, version, chunk)`,
    });
    await engine.client.insert({
      table: name,
      values: [
        {
          bucket: 'b',
          key: 'old.csv',
          version: 'v0',
          size: 10,
          route: 'in/',
          table: 'db.t',
          status: 'loaded',
          rows_inserted: 3,
          rows_rejected: 0,
          rejects_location: '',
          attempt: 1,
          started: '2026-01-01 00:00:00',
          finished: '2026-01-01 00:00:01',
          error: '',
          delivery: 'exactly-once',
        },
      ],
      format: 'JSONEachRow',
    });
    await engine.client.insert({
      table: `${name}_chunks`,
      values: [
        {
          bucket: 'b',
          key: 'half.csv',
          version: 'v0',
          chunk: 0,
          rows_inserted: 4,
          rows_rejected: 0,
          rejects: '',
          committed: '2026-01-01 00:00:00',
        },
      ],
      format: 'JSONEachRow',
    });

    // Two containers start at once on the old layout: one renames, both end up with the same views.
    const [first, second] = [ledgerOn(name), ledgerOn(name)];
    const [loadedBefore, halfDone] = await Promise.all([
      first.prior({ bucket: 'b', key: 'old.csv', version: 'v0' }),
      second.prior({ bucket: 'b', key: 'half.csv', version: 'v0' }),
    ]);
    expect(loadedBefore).toMatchObject({ attempts: 1, loaded: true });
    expect(halfDone.committed.get(0)).toEqual({ chunk: 0, rowsInserted: 4, rejected: [], cut: '' });

    const tables = await queryRows<{ name: string; engine: string }>(
      engine.client,
      `SELECT name, engine FROM system.tables WHERE database = 'default' AND name LIKE '${name}%' ORDER BY name`,
    );
    expect(tables.map((table) => [table.name, table.engine === 'View' ? 'View' : 'table'])).toEqual([
      [name, 'View'],
      [`${name}_chunks`, 'View'],
      [`${name}_chunks_v1`, 'table'],
      [`${name}_log`, 'table'],
      [`${name}_v1`, 'table'],
    ]);

    await first.record(
      entry({ bucket: 'b', key: 'new.csv', version: 'v9' }, { status: 'loaded', error: '' }),
    );
    const history = await queryRows<{ key: string; status: string }>(
      engine.client,
      `SELECT key, status FROM ${name} ORDER BY key`,
    );
    expect(history).toEqual([
      { key: 'new.csv', status: 'loaded' },
      { key: 'old.csv', status: 'loaded' },
    ]);
    const chunks = await queryRows<{ key: string; cut: string }>(
      engine.client,
      `SELECT key, cut FROM ${name}_chunks`,
    );
    expect(chunks).toEqual([{ key: 'half.csv', cut: '' }]);
  });
});
