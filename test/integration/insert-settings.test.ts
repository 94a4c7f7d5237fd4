/**
 * chDB gets an insert's settings in the INSERT's own SETTINGS clause (WarehouseOptions.settingsInQuery), not as
 * request parameters: its connection would run those as SET statements ahead of the inlined data, several
 * times slower. Settings that did not take effect there would go unnoticed in most tests: without its token,
 * a duplicate insert of the same rows is still dropped by ClickHouse's hash of the data, and most settings
 * chute sends repeat a default. So each kind is checked here on its own, with a value that changes the outcome:
 * the deduplication token, a format setting, and a limit on errors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseWarehouse } from '../../functions/core/clickhouse/warehouse.ts';
import { DataRejectedError, type RawInsert } from '../../functions/core/ports/warehouse.ts';
import { useEngine } from '../fixtures/engine-and-s3.ts';
import { chdbEngine } from '../fixtures/loader.ts';
import { queryRows, uniqueName } from '../fixtures/tables.ts';

describe('insert settings in the SETTINGS clause, on chDB', () => {
  const ctx = useEngine(chdbEngine);
  let warehouse: ClickHouseWarehouse;
  beforeAll(() => {
    warehouse = new ClickHouseWarehouse(ctx.engine.client, ctx.engine.warehouse);
  });

  async function freshTable(): Promise<string> {
    const table = uniqueName('insert_settings');
    await ctx.engine.client.command({
      query: `CREATE TABLE ${table} (id UInt32, name String) ${ctx.engine.mergeTree('id')}`,
    });
    return table;
  }

  function csvInsert(table: string, body: string, settings: RawInsert['settings']): RawInsert {
    return {
      table: { database: 'default', table },
      columns: ['id', 'name'],
      format: 'CSV',
      body: [Buffer.from(body)],
      settings,
    };
  }

  async function ids(table: string): Promise<number[]> {
    const rows = await queryRows<{ id: number }>(ctx.engine.client, `SELECT id FROM ${table} ORDER BY id`);
    return rows.map((row) => Number(row.id));
  }

  it('applies the deduplication token: other rows under the same token are dropped', async () => {
    const table = await freshTable();
    const token = { insert_deduplicate: 1, insert_deduplication_token: `t-${uniqueName('tok')}` };
    await warehouse.insertRaw(csvInsert(table, '1,a\n2,b\n', token));
    await warehouse.insertRaw(csvInsert(table, '3,c\n', token));
    await warehouse.insertRaw(
      csvInsert(table, '4,d\n', {
        ...token,
        insert_deduplication_token: `${token.insert_deduplication_token}-2`,
      }),
    );
    expect(await ids(table)).toEqual([1, 2, 4]);
  });

  it('applies a format setting: a semicolon delimiter, quoted in the clause', async () => {
    const table = await freshTable();
    await warehouse.insertRaw(csvInsert(table, "5;it's\n", { format_csv_delimiter: ';' }));
    const rows = await queryRows<{ id: number; name: string }>(
      ctx.engine.client,
      `SELECT id, name FROM ${table}`,
    );
    expect(rows.map((row) => [Number(row.id), row.name])).toEqual([[5, "it's"]]);
  });

  it('applies an error limit: with none tolerated a bad row refuses the insert, with one it is skipped', async () => {
    const table = await freshTable();
    const body = '6,f\nseven,g\n8,h\n';
    await expect(
      warehouse.insertRaw(csvInsert(table, body, { input_format_allow_errors_num: 0 })),
    ).rejects.toBeInstanceOf(DataRejectedError);
    expect(await ids(table)).toEqual([]);
    await warehouse.insertRaw(csvInsert(table, body, { input_format_allow_errors_num: 1 }));
    expect(await ids(table)).toEqual([6, 8]);
  });
});
