/**
 * The row screen may only take out rows ClickHouse is certain to refuse: under exactly-once a chunk can be
 * screened before its first insert, so a row screened out that some insert of it would have loaded could make a
 * retry (which offers the chunk whole) load different rows than the first attempt. This asks each real engine,
 * with the very settings chute inserts with, about every kind of row the screen has a rule for, including the
 * ones it must leave alone: each row the screen calls certain must be refused.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ClickHouseWarehouse } from '../../functions/core/clickhouse/warehouse.ts';
import { parseRoute } from '../../functions/core/config/parse.ts';
import type { DataFormat } from '../../functions/core/config/schema.ts';
import { indexChunk } from '../../functions/core/pipeline/chunk-index.ts';
import { planColumns } from '../../functions/core/pipeline/column-plan.ts';
import { insertTarget } from '../../functions/core/pipeline/insert-target.ts';
import { DataRejectedError } from '../../functions/core/ports/warehouse.ts';
import { onlyChunk } from '../fixtures/chunks.ts';
import { useEngine } from '../fixtures/engine-and-s3.ts';
import { chdbEngine, type Engine, serverEngine } from '../fixtures/loader.ts';
import { uniqueName } from '../fixtures/tables.ts';

const COLUMNS = ['id', 'ts', 'day', 'amount', 'maybe', 'price', 'note'];
const TABLE_SQL =
  '(id UInt32, ts DateTime, day Date, amount Float64, maybe Nullable(Int32), price Decimal(10, 2), note String)';
const GOOD = ['1', '2026-11-01 10:00:00', '2026-11-01', '1.5', '7', '3.25', 'x'];

/** A good row with field `at` replaced by `value`. */
function withField(at: number, value: string): string[] {
  return GOOD.map((field, i) => (i === at ? value : field));
}

const ODD_VALUES = [
  'n/a',
  'yesterday',
  'now',
  'true',
  'NULL',
  '\\N',
  '',
  '""',
  'nan',
  '-inf',
  '-',
  '.',
  'e',
  "'5'",
];

/** Rows as field lists: every odd value in every column, and rows of the wrong shape. */
const SHAPES: string[][] = [
  ...ODD_VALUES.flatMap((value) => COLUMNS.map((_, at) => withField(at, value))),
  GOOD.slice(0, -1),
  [...GOOD, 'extra'],
  [...GOOD, ''],
  [...GOOD, '', ''],
  ["'a", "b'", ...GOOD.slice(1)],
  [...GOOD.slice(0, -1), "'a,b'"],
  ["'a,n/a'", ...GOOD.slice(1), ''],
  [...GOOD.slice(0, -1), ' "a,b"'],
  [...GOOD.slice(0, 3), ' "n/a"', ...GOOD.slice(4)],
  [...GOOD, ' '],
  [...GOOD, ' ', ''],
  [...GOOD.slice(0, -1), 'crlf\r'],
  [...GOOD, 'crlf extra\r'],
];

const engines: [string, () => Engine][] = [
  ['clickhouse-server 18.16', () => serverEngine(inject('clickhouseUrl'))],
  ['chDB', () => chdbEngine()],
];

describe.each(engines)('the row screen against %s', (_name, open) => {
  const ctx = useEngine(open);
  let warehouse: ClickHouseWarehouse;
  beforeAll(() => {
    warehouse = new ClickHouseWarehouse(ctx.engine.client, ctx.engine.warehouse);
  });

  it.each(['csv', 'tsv'] as const)(
    'takes out of %s only rows the engine refuses',
    async (format: DataFormat) => {
      const table = uniqueName('screened');
      await ctx.engine.client.command({
        query: `CREATE TABLE ${table} ${TABLE_SQL} ${ctx.engine.mergeTree('id')}`,
      });
      const capabilities = await warehouse.capabilities();
      const columns = await warehouse.describeTable({ database: 'default', table });
      const route = parseRoute({ prefix: 'in/', table, format, header: false, columns: COLUMNS });
      const plan = planColumns(route, COLUMNS, columns, capabilities, 'test');
      const chunking = { maxBytes: 1 << 20, maxRows: 10_000, maxRecordBytes: 4096, insertsInFlight: 1 };
      const version = { bucket: 'b', key: 'k', version: 'v' };
      const ref = { database: 'default', table };
      const target = insertTarget(
        warehouse,
        ref,
        plan,
        route,
        capabilities,
        chunking,
        version,
        columns,
        'cut',
      );
      const separator = format === 'tsv' ? '\t' : ',';
      const lines = SHAPES.map((fields) => fields.join(separator));

      const chunk = onlyChunk(`${lines.join('\n')}\n`, chunking, format);
      if (target.screen === undefined) throw new Error('expected a screen');
      expect(chunk.rows).toBe(lines.length);
      const certain = target.screen(chunk, indexChunk(chunk, format, separator));
      expect(certain.size).toBeGreaterThan(20);

      const loadedDespiteScreen: string[] = [];
      for (const [row, reason] of certain) {
        try {
          await warehouse.insertRaw({
            ...target.base,
            body: [Buffer.from(`${lines[row]}\n`)],
            settings: target.settings,
          });
          loadedDespiteScreen.push(`${JSON.stringify(lines[row])} (${reason})`);
        } catch (error) {
          if (!(error instanceof DataRejectedError)) throw error;
        }
      }
      expect(loadedDespiteScreen).toEqual([]);
    },
  );
});
