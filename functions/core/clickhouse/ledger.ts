import type { ClickHouseClient } from '@clickhouse/client';
import type { CommittedChunk, Ledger, LedgerEntry, PriorAttempts, VersionKey } from '../ports/ledger.ts';
import type { RejectedRow } from '../ports/object-store.ts';
import { type LedgerTables, type LegacyTables, ledgerTables, prepareLedger } from './ledger-layout.ts';
import { quoteString, quoteTable, type TableRef } from './sql.ts';

/** Settings for the ledger's own small inserts: synchronous, so a recorded chunk is a committed record. */
const LEDGER_INSERT_SETTINGS = { async_insert: 0 } as const;

/**
 * The load history (layout and views: `ledger-layout.ts`), made on first use. No TTL: a history that forgets is
 * how other loaders end up loading a file twice.
 */
export class ClickHouseLedger implements Ledger {
  readonly #client: ClickHouseClient;
  readonly #tables: LedgerTables;
  readonly #asyncInsertSetting: () => Promise<boolean>;
  #ready: Promise<LegacyTables> | undefined;

  constructor(client: ClickHouseClient, table: TableRef, asyncInsertSetting: () => Promise<boolean>) {
    this.#client = client;
    this.#tables = ledgerTables(table);
    this.#asyncInsertSetting = asyncInsertSetting;
  }

  get historyTable(): TableRef {
    return this.#tables.history;
  }

  async prior(version: VersionKey): Promise<PriorAttempts> {
    const legacy = await this.#ensure();
    const [records, old] = await Promise.all([
      this.#rows<{ record: string }>(
        `SELECT record FROM ${quoteTable(this.#tables.log)} WHERE ${where(version)}`,
      ),
      legacy.history === undefined && legacy.chunks === undefined ? [] : this.#legacyRecords(legacy, version),
    ]);
    let attempts = 0;
    let loaded = false;
    const committed = new Map<number, CommittedChunk>();
    for (const record of [...records.map((row) => JSON.parse(row.record) as LogRecord), ...old]) {
      if (record.kind === 'attempt') {
        attempts++;
        loaded ||= record.status === 'loaded';
      } else if (record.kind === 'chunk') {
        // Other kinds are for later chutes: a record this one does not know is not a committed chunk.
        committed.set(record.chunk, {
          chunk: record.chunk,
          rowsInserted: record.rows_inserted,
          rejected: record.rejects === '' ? [] : (JSON.parse(record.rejects) as RejectedRow[]),
          cut: record.cut,
        });
      }
    }
    return { attempts, loaded, committed };
  }

  async recordChunk(version: VersionKey, chunk: CommittedChunk): Promise<void> {
    await this.#ensure();
    // The rejects go in as a string of JSON, not nested: the view reads them with visitParamExtractString
    // (visitParamExtractRaw misreads a nested string that ends in a backslash, on 18.16 and on 26.x alike).
    await this.#insert(version, {
      kind: 'chunk',
      chunk: chunk.chunk,
      rows_inserted: chunk.rowsInserted,
      rows_rejected: chunk.rejected.length,
      committed: dateTime(new Date()),
      cut: chunk.cut,
      rejects: chunk.rejected.length === 0 ? '' : JSON.stringify(chunk.rejected),
    });
  }

  async record(entry: LedgerEntry): Promise<void> {
    await this.#ensure();
    await this.#insert(entry, {
      kind: 'attempt',
      size: entry.size,
      route: entry.route,
      table: entry.table,
      status: entry.status,
      rows_inserted: entry.rowsInserted,
      rows_rejected: entry.rowsRejected,
      rejects_location: entry.rejectsLocation,
      attempt: entry.attempt,
      started: dateTime(entry.started),
      finished: dateTime(entry.finished),
      error: entry.error,
      delivery: entry.delivery,
    });
  }

  #ensure(): Promise<LegacyTables> {
    this.#ready ??= prepareLedger(this.#client, this.#tables).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  /** Rows of the old layout's tables for one version, as records. */
  async #legacyRecords(legacy: LegacyTables, version: VersionKey): Promise<LogRecord[]> {
    const [attempts, chunks] = await Promise.all([
      legacy.history === undefined
        ? []
        : this.#rows<{ status: string }>(
            `SELECT status FROM ${quoteTable(legacy.history)} WHERE ${where(version)}`,
          ),
      legacy.chunks === undefined
        ? []
        : this.#rows<{ chunk: number; rows_inserted: string; rejects: string; cut: string }>(
            `SELECT chunk, rows_inserted, rejects, ${legacy.chunks.hasCut ? 'cut' : "'' AS cut"}
               FROM ${quoteTable(legacy.chunks.table)} WHERE ${where(version)}`,
          ),
    ]);
    return [
      ...attempts.map((row): LogRecord => ({ kind: 'attempt', status: row.status })),
      ...chunks.map(
        (row): LogRecord => ({
          kind: 'chunk',
          chunk: Number(row.chunk),
          rows_inserted: Number(row.rows_inserted),
          cut: row.cut,
          rejects: row.rejects,
        }),
      ),
    ];
  }

  async #insert(version: VersionKey, record: LogRecord & Record<string, unknown>): Promise<void> {
    await this.#client.insert({
      table: quoteTable(this.#tables.log),
      values: [
        {
          bucket: version.bucket,
          key: version.key,
          version: version.version,
          record: JSON.stringify(record),
        },
      ],
      format: 'JSONEachRow',
      clickhouse_settings: (await this.#asyncInsertSetting()) ? LEDGER_INSERT_SETTINGS : {},
    });
  }

  async #rows<T>(query: string): Promise<T[]> {
    const result = await this.#client.query({ query, format: 'JSONEachRow' });
    return result.json<T>();
  }
}

/** What a history query needs of a `_log` record; the rest is for people (through the views). */
type LogRecord =
  | { kind: 'attempt'; status: string }
  | { kind: 'chunk'; chunk: number; rows_inserted: number; cut: string; rejects: string };

function where(version: VersionKey): string {
  return `bucket = ${quoteString(version.bucket)} AND key = ${quoteString(version.key)} AND version = ${quoteString(version.version)}`;
}

/** `YYYY-MM-DD hh:mm:ss` in UTC: the DateTime text every server version parses. */
function dateTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}
