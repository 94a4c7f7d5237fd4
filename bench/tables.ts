import { ledgerTables } from '../functions/core/clickhouse/ledger-layout.ts';
import { parseTableName, quoteTable } from '../functions/core/clickhouse/sql.ts';
import { LedgerSchema } from '../functions/core/config/schema.ts';
import type { BenchEnv } from './env.ts';

/** chute's load history (default name): it remembers loaded object versions, so each run must start without it. */
export const LEDGER_LOG = quoteTable(
  ledgerTables(parseTableName(LedgerSchema.parse({}).table, 'default')).log,
);

let dedupSetting: Promise<boolean> | undefined;

/**
 * What gives a run a fresh, empty target table and an empty load history: otherwise chute would rightly skip
 * an object version it loaded in the previous run. On engines that deduplicate plain MergeTree inserts
 * (22.2+), the table gets the window chute's exactly-once delivery requires, as a user's table would.
 * (The bench's server runs these through `resetTables`, the chDB child on its own.)
 */
export function resetStatements(
  table: string,
  columns: string,
  deduplicates: boolean,
): [string, string, string] {
  const settings = deduplicates ? ' SETTINGS non_replicated_deduplication_window = 1000' : '';
  return [
    `DROP TABLE IF EXISTS ${table}`,
    `CREATE TABLE ${table} ${columns} ENGINE = MergeTree ORDER BY id${settings}`,
    // The history and its chunks are views over one table.
    `TRUNCATE TABLE IF EXISTS ${LEDGER_LOG}`,
  ];
}

/** `resetStatements` on the bench's server. */
export async function resetTables(
  env: BenchEnv,
  table: string,
  columns: string,
  log?: (line: string) => void,
): Promise<void> {
  dedupSetting ??= env
    .sql("SELECT count() FROM system.merge_tree_settings WHERE name = 'non_replicated_deduplication_window'")
    .then((text) => Number(text.trim()) > 0);
  const [drop, create, truncate] = resetStatements(table, columns, await dedupSetting);
  const dropping = Date.now();
  await env.sql(drop);
  const dropMs = Date.now() - dropping;
  // A slow drop is the server still merging the many small parts the previous run left: worth knowing.
  if (dropMs > 2000) log?.(`  dropping ${table} took ${(dropMs / 1000).toFixed(1)} s`);
  await env.sql(create);
  await env.sql(truncate);
}

export async function tableCount(env: BenchEnv, table: string): Promise<number> {
  return Number((await env.sql(`SELECT count() FROM ${table}`)).trim());
}
