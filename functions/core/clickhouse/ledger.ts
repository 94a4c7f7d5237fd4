import type { ClickHouseClient } from '@clickhouse/client';
import type { CommittedChunk, Ledger, LedgerEntry, PriorAttempts, VersionKey } from '../ports/ledger.ts';
import type { RejectedRow } from '../ports/object-store.ts';
import { quoteIdentifier, quoteString, quoteTable, type TableRef } from './sql.ts';

/** Settings for the ledger's own small inserts: synchronous, so a recorded chunk is a committed record. */
const LEDGER_INSERT_SETTINGS = { async_insert: 0 } as const;

/**
 * The load history in two MergeTree tables, created on first use: `<name>` (one row per attempt, what users
 * query) and `<name>_chunks` (one row per committed chunk, what a retry resumes from). No TTL: a history that
 * forgets is how other loaders end up loading a file twice.
 */
export class ClickHouseLedger implements Ledger {
  readonly #client: ClickHouseClient;
  readonly #history: TableRef;
  readonly #chunks: TableRef;
  readonly #asyncInsertSetting: () => Promise<boolean>;
  #ready: Promise<void> | undefined;

  constructor(client: ClickHouseClient, table: TableRef, asyncInsertSetting: () => Promise<boolean>) {
    this.#client = client;
    this.#history = table;
    this.#chunks = { database: table.database, table: `${table.table}_chunks` };
    this.#asyncInsertSetting = asyncInsertSetting;
  }

  get historyTable(): TableRef {
    return this.#history;
  }

  async prior(version: VersionKey): Promise<PriorAttempts> {
    await this.#ensure();
    const rows = await this.#rows<{
      kind: string;
      status: string;
      chunk: number;
      rows_inserted: string;
      rejects: string;
      cut: string;
    }>(
      `SELECT 'attempt' AS kind, status, toUInt32(0) AS chunk, toUInt64(0) AS rows_inserted, '' AS rejects,
              '' AS cut
         FROM ${quoteTable(this.#history)} WHERE ${where(version)}
       UNION ALL
       SELECT 'chunk' AS kind, '' AS status, chunk, rows_inserted, rejects, cut
         FROM ${quoteTable(this.#chunks)} WHERE ${where(version)}`,
    );
    let attempts = 0;
    let loaded = false;
    const committed = new Map<number, CommittedChunk>();
    for (const row of rows) {
      if (row.kind === 'attempt') {
        attempts++;
        loaded ||= row.status === 'loaded';
      } else {
        committed.set(Number(row.chunk), {
          chunk: Number(row.chunk),
          rowsInserted: Number(row.rows_inserted),
          rejected: row.rejects === '' ? [] : (JSON.parse(row.rejects) as RejectedRow[]),
          cut: row.cut,
        });
      }
    }
    return { attempts, loaded, committed };
  }

  async recordChunk(version: VersionKey, chunk: CommittedChunk): Promise<void> {
    await this.#ensure();
    await this.#insert(this.#chunks, {
      bucket: version.bucket,
      key: version.key,
      version: version.version,
      chunk: chunk.chunk,
      rows_inserted: chunk.rowsInserted,
      rows_rejected: chunk.rejected.length,
      rejects: chunk.rejected.length === 0 ? '' : JSON.stringify(chunk.rejected),
      committed: dateTime(new Date()),
      cut: chunk.cut,
    });
  }

  async record(entry: LedgerEntry): Promise<void> {
    await this.#ensure();
    await this.#insert(this.#history, {
      bucket: entry.bucket,
      key: entry.key,
      version: entry.version,
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

  #ensure(): Promise<void> {
    this.#ready ??= this.#create().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async #create(): Promise<void> {
    await this.#client.command({
      query: `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(this.#history.database)}`,
    });
    // The two tables are independent: created side by side, one round trip fewer on every cold container.
    await Promise.all([this.#createHistory(), this.#createChunks()]);
  }

  async #createHistory(): Promise<void> {
    await this.#client.command({
      query: `CREATE TABLE IF NOT EXISTS ${quoteTable(this.#history)} (
        bucket String, key String, version String, size UInt64, route String, table String,
        status String, rows_inserted UInt64, rows_rejected UInt64, rejects_location String,
        attempt UInt32, started DateTime('UTC'), finished DateTime('UTC'), error String, delivery String
      ) ENGINE = MergeTree ORDER BY (bucket, key, version, started)`,
    });
  }

  async #createChunks(): Promise<void> {
    await this.#client.command({
      query: `CREATE TABLE IF NOT EXISTS ${quoteTable(this.#chunks)} (
        bucket String, key String, version String, chunk UInt32, rows_inserted UInt64, rows_rejected UInt64,
        rejects String, committed DateTime('UTC'), cut String
      ) ENGINE = MergeTree ORDER BY (bucket, key, version, chunk)`,
    });
    await this.#addCutColumn();
  }

  /**
   * Tables made before chute recorded how an object was cut lack the `cut` column: added here, once. (18.16
   * has no ADD COLUMN IF NOT EXISTS, so the column list is read first, and a concurrent container that added
   * it in between is not an error.)
   */
  async #addCutColumn(): Promise<void> {
    const hasCut = async () =>
      (
        await this.#rows<{ name: string }>(
          `SELECT name FROM system.columns WHERE database = ${quoteString(this.#chunks.database)} AND table = ${quoteString(this.#chunks.table)} AND name = 'cut'`,
        )
      ).length > 0;
    if (await hasCut()) return;
    try {
      await this.#client.command({ query: `ALTER TABLE ${quoteTable(this.#chunks)} ADD COLUMN cut String` });
    } catch (error) {
      if (!(await hasCut())) throw error;
    }
  }

  async #insert(table: TableRef, row: Record<string, unknown>): Promise<void> {
    await this.#client.insert({
      table: quoteTable(table),
      values: [row],
      format: 'JSONEachRow',
      clickhouse_settings: (await this.#asyncInsertSetting()) ? LEDGER_INSERT_SETTINGS : {},
    });
  }

  async #rows<T>(query: string): Promise<T[]> {
    const result = await this.#client.query({ query, format: 'JSONEachRow' });
    return result.json<T>();
  }
}

function where(version: VersionKey): string {
  return `bucket = ${quoteString(version.bucket)} AND key = ${quoteString(version.key)} AND version = ${quoteString(version.version)}`;
}

/** `YYYY-MM-DD hh:mm:ss` in UTC: the DateTime text every server version parses. */
function dateTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}
