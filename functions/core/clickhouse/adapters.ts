import type { ClickHouseClient } from '@clickhouse/client';
import { ClickHouseLedger } from './ledger.ts';
import { parseTableName } from './sql.ts';
import { ClickHouseWarehouse, type WarehouseOptions } from './warehouse.ts';

/** The two ClickHouse-backed ports over one client: the target tables and the load history beside them. */
export function clickHouseAdapters(
  client: ClickHouseClient,
  ledgerTable: string,
  defaultDatabase: string,
  options: WarehouseOptions = {},
): { warehouse: ClickHouseWarehouse; ledger: ClickHouseLedger } {
  const warehouse = new ClickHouseWarehouse(client, options);
  const ledger = new ClickHouseLedger(
    client,
    parseTableName(ledgerTable, defaultDatabase),
    async () => (await warehouse.capabilities()).asyncInsertSetting,
  );
  return { warehouse, ledger };
}
