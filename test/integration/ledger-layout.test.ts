/**
 * The load history's layout on both real engines: one narrow `_log` table, the two views people query, and the
 * upgrade from the layout chute had before (two wide tables), renamed aside and still read.
 */
import { describe, expect, inject, it, vi } from 'vitest';
import { printHistory } from '../../functions/cli/history.ts';
import { ClickHouseLedger } from '../../functions/core/clickhouse/ledger.ts';
import type { LedgerEntry, VersionKey } from '../../functions/core/ports/ledger.ts';
import { useEngine } from '../fixtures/engine-and-s3.ts';
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
  const ctx = useEngine(open);

  const ledgerOn = (table: string) =>
    new ClickHouseLedger(ctx.engine.client, { database: 'default', table }, async () => false);

  it('writes one narrow table and shows attempts and chunks through views with the documented columns', async () => {
    const name = uniqueName('history');
    const ledger = ledgerOn(name);
    const version = { bucket: 'b', key: 'in/a "quoted" key.csv', version: 'v1' };
    const rejected = [{ line: 3, row: 2, reason: AWKWARD, raw: '2,"x",\\' }];
    await ledger.recordChunk(version, { chunk: 0, rowsInserted: 5, rejected, cut: 'csv/8MiB' });
    await ledger.record(entry(version));

    const columns = await queryRows<{ name: string; type: string }>(
      ctx.engine.client,
      `SELECT name, type FROM system.columns WHERE database = 'default' AND table = '${name}_log'`,
    );
    expect(columns.map((column) => column.name)).toEqual(['bucket', 'key', 'version', 'record']);

    const [attempt, ...moreAttempts] = await queryRows<Record<string, unknown>>(
      ctx.engine.client,
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

    const chunks = await queryRows<Record<string, unknown>>(
      ctx.engine.client,
      `SELECT * FROM ${name}_chunks`,
    );
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toMatchObject({ key: version.key, chunk: 0, cut: 'csv/8MiB' });
    expect(Number(chunks[0]?.rows_inserted)).toBe(5);
    expect(JSON.parse(String(chunks[0]?.rejects))).toEqual(rejected);

    const prior = await ledgerOn(name).prior(version);
    expect(prior).toMatchObject({ attempts: 1, loaded: false });
    expect(prior.committed.get(0)).toEqual({ chunk: 0, rowsInserted: 5, rejected, cut: 'csv/8MiB' });
  });

  /** The old layout's two tables, as an earlier chute made them (the oldest `_chunks` had no `cut`). */
  async function oldLayout(name: string, withCut: boolean): Promise<void> {
    await ctx.engine.client.command({
      query: `CREATE TABLE ${name} (
        bucket String, key String, version String, size UInt64, route String, table String,
        status String, rows_inserted UInt64, rows_rejected UInt64, rejects_location String,
        attempt UInt32, started DateTime('UTC'), finished DateTime('UTC'), error String, delivery String
      ) ENGINE = MergeTree ORDER BY (bucket, key, version, started)`,
    });
    await ctx.engine.client.command({
      query: `CREATE TABLE ${name}_chunks (bucket String, key String, version String, chunk UInt32,
        rows_inserted UInt64, rows_rejected UInt64, rejects String, committed DateTime('UTC')${withCut ? ', cut String' : ''})
        ENGINE = MergeTree ORDER BY (bucket, key, version, chunk)`,
    });
    await ctx.engine.client.insert({
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
    await ctx.engine.client.insert({
      table: `${name}_chunks`,
      values: [
        {
          bucket: 'b',
          key: 'half.csv',
          version: 'v0',
          chunk: 0,
          rows_inserted: 4,
          rows_rejected: 1,
          rejects: JSON.stringify([OLD_REJECT]),
          committed: '2026-01-01 00:00:00',
          ...(withCut ? { cut: 'csv/old' } : {}),
        },
      ],
      format: 'JSONEachRow',
    });
  }

  const OLD_REJECT = { line: 2, row: 1, reason: 'ClickHouse code 27: bad', raw: 'x,\\' };

  const tablesNamed = async (name: string) =>
    (
      await queryRows<{ name: string; engine: string }>(
        ctx.engine.client,
        `SELECT name, engine FROM system.tables WHERE database = 'default' AND name LIKE '${name}%' ORDER BY name`,
      )
    ).map((table) => [table.name, table.engine === 'View' ? 'View' : 'table']);

  it.each([
    ['without', false],
    ['with', true],
  ])(
    'keeps reading a history of the old two-table layout (_chunks %s cut): renamed aside, in the views and in prior()',
    async (_label, withCut) => {
      const name = uniqueName('history');
      await oldLayout(name, withCut);

      // Two containers start at once on the old layout: one renames, both end up with the same views.
      const [first, second] = [ledgerOn(name), ledgerOn(name)];
      const [loadedBefore, halfDone] = await Promise.all([
        first.prior({ bucket: 'b', key: 'old.csv', version: 'v0' }),
        second.prior({ bucket: 'b', key: 'half.csv', version: 'v0' }),
      ]);
      expect(loadedBefore).toMatchObject({ attempts: 1, loaded: true });
      expect(halfDone.committed.get(0)).toEqual({
        chunk: 0,
        rowsInserted: 4,
        rejected: [OLD_REJECT],
        cut: withCut ? 'csv/old' : '',
      });
      expect(await tablesNamed(name)).toEqual([
        [name, 'View'],
        [`${name}_chunks`, 'View'],
        [`${name}_chunks_v1`, 'table'],
        [`${name}_log`, 'table'],
        [`${name}_v1`, 'table'],
      ]);

      // New rows beside old ones, for the same object version: prior() and the views see both.
      const half = { bucket: 'b', key: 'half.csv', version: 'v0' };
      await first.recordChunk(half, { chunk: 1, rowsInserted: 6, rejected: [], cut: 'csv/new' });
      await first.record(entry(half, { status: 'loaded', error: '', attempt: 2 }));
      const both = await ledgerOn(name).prior(half);
      expect(both).toMatchObject({ attempts: 1, loaded: true });
      expect([...both.committed.keys()].sort()).toEqual([0, 1]);

      // Every column through the UNION ALL of the views, old rows and new (types must match on 18.16).
      const history = await queryRows<Record<string, unknown>>(
        ctx.engine.client,
        `SELECT * FROM ${name} ORDER BY key`,
      );
      expect(
        history.map((row) => [row.key, row.status, Number(row.size), row.attempt, row.finished]),
      ).toEqual([
        ['half.csv', 'loaded', 1234, 2, '2026-11-27 10:00:05'],
        ['old.csv', 'loaded', 10, 1, '2026-01-01 00:00:01'],
      ]);
      const chunks = await queryRows<Record<string, unknown>>(
        ctx.engine.client,
        `SELECT * FROM ${name}_chunks ORDER BY chunk`,
      );
      expect(chunks.map((row) => [row.chunk, Number(row.rows_inserted), row.cut, row.rejects])).toEqual([
        [0, 4, withCut ? 'csv/old' : '', JSON.stringify([OLD_REJECT])],
        [1, 6, 'csv/new', ''],
      ]);
      expect(chunks[0]?.committed).toBe('2026-01-01 00:00:00');
    },
  );

  it('finishes an upgrade cut short between the rename and the views', async () => {
    const name = uniqueName('history');
    await oldLayout(name, true);
    await ctx.engine.client.command({ query: `RENAME TABLE ${name} TO ${name}_v1` });
    await ctx.engine.client.command({ query: `RENAME TABLE ${name}_chunks TO ${name}_chunks_v1` });
    const prior = await ledgerOn(name).prior({ bucket: 'b', key: 'old.csv', version: 'v0' });
    expect(prior).toMatchObject({ loaded: true });
    const viewed = await queryRows<{ key: string }>(ctx.engine.client, `SELECT key FROM ${name}_chunks`);
    expect(viewed).toEqual([{ key: 'half.csv' }]);
  });

  it('fails with LEDGER_LAYOUT when an old table cannot be moved aside, and leaves it as it is', async () => {
    const name = uniqueName('history');
    await oldLayout(name, true);
    // An earlier upgrade took the _v1 name, and an older chute has made its table again since.
    await ctx.engine.client.command({ query: `CREATE TABLE ${name}_v1 (x UInt8) ENGINE = Memory` });
    await expect(ledgerOn(name).prior({ bucket: 'b', key: 'old.csv', version: 'v0' })).rejects.toMatchObject({
      code: 'LEDGER_LAYOUT',
      message: expect.stringMatching(/could not be moved aside .*that name is taken/),
    });
    expect((await tablesNamed(name)).find(([table]) => table === name)).toEqual([name, 'table']);
  });

  it('ignores a record kind it does not know (written by a later chute)', async () => {
    const name = uniqueName('history');
    const ledger = ledgerOn(name);
    const version = { bucket: 'b', key: 'k', version: 'v' };
    await ledger.record(entry(version));
    await ctx.engine.client.insert({
      table: `${name}_log`,
      values: [{ ...version, record: JSON.stringify({ kind: 'later', chunk: 3 }) }],
      format: 'JSONEachRow',
    });
    const prior = await ledger.prior(version);
    expect(prior).toMatchObject({ attempts: 1, loaded: false });
    expect(prior.committed.size).toBe(0);
  });

  it('is what `chute history` prints: filtered by status, time and key prefix, newest first', async () => {
    const name = uniqueName('history');
    const ledger = ledgerOn(name);
    const at = (minute: number) => new Date(`2026-11-27T10:${String(minute).padStart(2, '0')}:00Z`);
    await ledger.record(
      entry(
        { bucket: 'b', key: 'in/a.csv', version: 'v1' },
        { status: 'loaded', error: '', finished: at(1) },
      ),
    );
    await ledger.record(entry({ bucket: 'b', key: 'in/b.csv', version: 'v1' }, { finished: at(2) }));
    await ledger.record(entry({ bucket: 'b', key: 'out/c.csv', version: 'v1' }, { finished: at(3) }));
    const printed: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((text) => {
      printed.push(String(text));
      return true;
    });
    try {
      const code = await printHistory(
        ctx.engine.client,
        {
          command: 'history',
          ledger: name,
          failedOnly: true,
          since: at(2),
          key: 'in/',
          limit: 10,
          json: true,
        },
        'default',
      );
      expect(code).toBe(0);
    } finally {
      write.mockRestore();
    }
    const rows = printed
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      key: 'in/b.csv',
      status: 'failed',
      error: AWKWARD,
      finished: '2026-11-27 10:02:00',
    });
  });
});
