import type { ClickHouseClient } from '@clickhouse/client';
import { ChuteError, describeError } from '../errors.ts';
import { quoteIdentifier, quoteString, quoteTable, type TableRef } from './sql.ts';

/**
 * Where the load history lives, and how it is made on first use.
 *
 * Storage is one narrow MergeTree table, `<name>_log`: the object version as three key columns and everything
 * else as one JSON `record`, one row per attempt (`"kind":"attempt"`) and one per committed chunk
 * (`"kind":"chunk"`). Users query two views over it that have the columns they expect: `<name>` (attempts) and
 * `<name>_chunks` (chunks).
 *
 * Why narrow: the ledger writes one-row inserts (one per file, one per chunk but the last), and a server that
 * gives every column of a part files of its own (older servers such as 18.16; current ones for large parts, or
 * when set up so) spends time per column on each. On the 18.16 bench server, in a slow state of the machine,
 * interleaved one-row inserts cost 40-51 ms of server CPU into the 15-column history table chute had before,
 * 20-22 ms into four columns, and 26-30 ms into the bench's 6-column data table: the history row cost more
 * than the small file it recorded (earlier the same afternoon every width cost 3-5 ms).
 */
export interface LedgerTables {
  /** Where rows are written and read: `<name>_log`. */
  readonly log: TableRef;
  /** Attempts view: `<name>`. */
  readonly history: TableRef;
  /** Committed-chunks view: `<name>_chunks`. */
  readonly chunks: TableRef;
}

/** Tables a chute before the `_log` layout wrote, renamed aside on upgrade and still read. */
export interface LegacyTables {
  readonly history?: TableRef | undefined;
  readonly chunks?: { readonly table: TableRef; readonly hasCut: boolean } | undefined;
}

export function ledgerTables(name: TableRef): LedgerTables {
  return {
    log: { database: name.database, table: `${name.table}_log` },
    history: name,
    chunks: { database: name.database, table: `${name.table}_chunks` },
  };
}

/** The name an old-layout table is renamed to: `chute_load_history` → `chute_load_history_v1`. */
function retiredName(table: TableRef): TableRef {
  return { database: table.database, table: `${table.table}_v1` };
}

/**
 * Creates the storage table and the two views, and retires an old layout: a `<name>` or `<name>_chunks` that
 * is a table (made by an earlier chute) is renamed to `<name>_v1` / `<name>_chunks_v1`, kept, and read from
 * then on (by the views and by the history query), so nothing loaded before the upgrade is loaded again.
 * Containers starting together race: one rename wins and every container ends with the same views. 18.16 may
 * also refuse a CREATE or RENAME while another container's is under way ("is creating or attaching right
 * now"): that refusal, and only that, is tried again a few times before the file fails.
 */
export async function prepareLedger(client: ClickHouseClient, tables: LedgerTables): Promise<LegacyTables> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await prepareOnce(client, tables);
    } catch (error) {
      if (attempt >= PREPARE_ATTEMPTS || !isConcurrentDdl(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 150 * attempt));
    }
  }
}

const PREPARE_ATTEMPTS = 4;

/** 18.16's refusal of a CREATE, RENAME or DROP while another one on the same name is under way. */
function isConcurrentDdl(error: unknown): boolean {
  return error instanceof Error && /right now/i.test(error.message);
}

async function prepareOnce(client: ClickHouseClient, tables: LedgerTables): Promise<LegacyTables> {
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(tables.log.database)}` });
  const [, seen] = await Promise.all([
    client.command({
      query: `CREATE TABLE IF NOT EXISTS ${quoteTable(tables.log)} (
        bucket String, key String, version String, record String
      ) ENGINE = MergeTree ORDER BY (bucket, key, version)`,
    }),
    engines(client, tables),
  ]);
  const isView = (found: Map<string, string>, table: TableRef) => found.get(table.table) === 'View';
  const old = [tables.history, tables.chunks].filter(
    (table) => seen.has(table.table) && !isView(seen, table),
  );
  const renameErrors = new Map<string, unknown>();
  for (const table of old) {
    // Another container may have renamed it first: what matters is whether it is gone, checked below.
    await client
      .command({ query: `RENAME TABLE ${quoteTable(table)} TO ${quoteTable(retiredName(table))}` })
      .catch((error: unknown) => renameErrors.set(table.table, error));
  }
  const after = old.length === 0 ? seen : await engines(client, tables);
  for (const table of old) {
    if (!after.has(table.table) || isView(after, table)) continue;
    const error = renameErrors.get(table.table);
    // Still there because another container's rename of it is under way: tried again.
    if (isConcurrentDdl(error)) throw error;
    throw cannotRetire(table, after, error);
  }
  const legacy = await legacyTables(client, tables, after);
  if (!isView(after, tables.history) || !isView(after, tables.chunks)) {
    await Promise.all([
      createView(client, tables.history, attemptsSelect(tables.log, legacy.history)),
      createView(client, tables.chunks, chunksSelect(tables.log, legacy.chunks)),
    ]);
    // CREATE VIEW IF NOT EXISTS does nothing where a table stands: an old chute still running may have made
    // one again since the rename. Its rows would go unread, so the file fails instead.
    const made = await engines(client, tables);
    for (const table of [tables.history, tables.chunks])
      if (!isView(made, table)) throw cannotRetire(table, made);
  }
  return legacy;
}

function cannotRetire(table: TableRef, found: Map<string, string>, cause?: unknown): ChuteError {
  const taken = found.has(retiredName(table).table) ? ' (that name is taken)' : '';
  const why = cause === undefined ? '' : ` (${describeError(cause)})`;
  return new ChuteError(
    'LEDGER_LAYOUT',
    `the load history ${quoteTable(table)} is a table of the layout chute used before the _log table, and it could not be moved aside to ${quoteTable(retiredName(table))}${taken}${why}. Stop every older chute, then rename it yourself (or copy its rows into the _v1 table and drop it); see "Upgrading" in the README`,
    cause === undefined ? undefined : { cause },
  );
}

async function legacyTables(
  client: ClickHouseClient,
  tables: LedgerTables,
  found: Map<string, string>,
): Promise<LegacyTables> {
  const history = retiredName(tables.history);
  const chunks = retiredName(tables.chunks);
  return {
    history: found.has(history.table) ? history : undefined,
    chunks: found.has(chunks.table)
      ? { table: chunks, hasCut: await hasColumn(client, chunks, 'cut') }
      : undefined,
  };
}

/** The engine of every ledger table and view in the database, by name. */
async function engines(client: ClickHouseClient, tables: LedgerTables): Promise<Map<string, string>> {
  const names = [tables.history, tables.chunks, retiredName(tables.history), retiredName(tables.chunks)];
  const result = await client.query({
    query: `SELECT name, engine FROM system.tables WHERE database = ${quoteString(tables.log.database)}
              AND name IN (${names.map((table) => quoteString(table.table)).join(', ')})`,
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ name: string; engine: string }>();
  return new Map(rows.map((row) => [row.name, row.engine]));
}

async function hasColumn(client: ClickHouseClient, table: TableRef, column: string): Promise<boolean> {
  const result = await client.query({
    query: `SELECT name FROM system.columns WHERE database = ${quoteString(table.database)}
              AND table = ${quoteString(table.table)} AND name = ${quoteString(column)}`,
    format: 'JSONEachRow',
  });
  return (await result.json()).length > 0;
}

async function createView(client: ClickHouseClient, view: TableRef, select: string): Promise<void> {
  await client.command({ query: `CREATE VIEW IF NOT EXISTS ${quoteTable(view)} AS ${select}` });
}

// visitParamExtract* finds the first `"name":` in the record. Records are flat (the chunk's rejects are a string
// of JSON) and quotes inside string values are escaped, so the first match is the key itself. The functions
// exist on every server from 18.16 to today.
const text = (name: string) => `visitParamExtractString(record, ${quoteString(name)})`;
const count = (name: string) => `visitParamExtractUInt(record, ${quoteString(name)})`;
const time = (name: string) => `toDateTime(${text(name)}, 'UTC')`;

/** The attempts view's columns: the same names and types as the history table of the old layout. */
function attemptsSelect(log: TableRef, legacy: TableRef | undefined): string {
  const fromLog = `SELECT bucket, key, version, ${count('size')} AS size, ${text('route')} AS route,
      ${text('table')} AS ${quoteIdentifier('table')}, ${text('status')} AS status,
      ${count('rows_inserted')} AS rows_inserted, ${count('rows_rejected')} AS rows_rejected,
      ${text('rejects_location')} AS rejects_location, toUInt32(${count('attempt')}) AS attempt,
      ${time('started')} AS started, ${time('finished')} AS finished, ${text('error')} AS error,
      ${text('delivery')} AS delivery
    FROM ${quoteTable(log)} WHERE ${text('kind')} = 'attempt'`;
  if (legacy === undefined) return fromLog;
  return `${fromLog} UNION ALL SELECT bucket, key, version, size, route, ${quoteIdentifier('table')}, status,
      rows_inserted, rows_rejected, rejects_location, attempt, started, finished, error, delivery
    FROM ${quoteTable(legacy)}`;
}

/** The chunks view's columns: those of the old layout's `_chunks` table (rejects as a JSON array, or ''). */
function chunksSelect(log: TableRef, legacy: LegacyTables['chunks']): string {
  const fromLog = `SELECT bucket, key, version, toUInt32(${count('chunk')}) AS chunk,
      ${count('rows_inserted')} AS rows_inserted, ${count('rows_rejected')} AS rows_rejected,
      ${text('rejects')} AS rejects, ${time('committed')} AS committed, ${text('cut')} AS cut
    FROM ${quoteTable(log)} WHERE ${text('kind')} = 'chunk'`;
  if (legacy === undefined) return fromLog;
  return `${fromLog} UNION ALL SELECT bucket, key, version, chunk, rows_inserted, rows_rejected, rejects,
      committed, ${legacy.hasCut ? 'cut' : "'' AS cut"}
    FROM ${quoteTable(legacy.table)}`;
}
