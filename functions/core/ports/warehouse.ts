import type { TableRef } from '../clickhouse/sql.ts';

/** One column as `DESCRIBE TABLE` tells it. */
export interface TableColumn {
  readonly name: string;
  readonly type: string;
  /** '' (none), DEFAULT, MATERIALIZED, ALIAS or EPHEMERAL. */
  readonly defaultKind: string;
}

/** What the connected server can do, found once per container so old servers get no setting they refuse. */
export interface ServerCapabilities {
  readonly version: string;
  /** `insert_deduplication_token` (22.2+). */
  readonly dedupToken: boolean;
  /** `async_insert` exists, so it must be set explicitly (it is on by default from 26.3). */
  readonly asyncInsertSetting: boolean;
  /** `input_format_with_names_use_header`: *WithNames formats map columns by header name. */
  readonly headerMatching: boolean;
  /** `min_chunk_bytes_for_parallel_parsing` exists, so one insert can be kept to one parsing unit. */
  readonly parallelParsing: boolean;
  /** `input_format_csv_empty_as_default` exists. */
  readonly csvEmptyAsDefault: boolean;
  /**
   * Which of the settings that let a CSV or TSV insert drop, invent or re-split rows this server has: chute
   * turns each one off in its inserts (see STRICT_TEXT_SETTINGS in the ClickHouse adapter).
   */
  readonly strictTextSettings: readonly string[];
  /**
   * The text this server's CSV and TSV inserts read as NULL (`format_{csv,tsv}_null_representation` as the
   * user's profile has it; `\N` where the setting does not exist).
   */
  readonly nullRepresentation: { readonly csv: string; readonly tsv: string };
}

export type InsertFormat = 'CSV' | 'CSVWithNames' | 'TabSeparated' | 'TabSeparatedWithNames' | 'JSONEachRow';

export interface RawInsert {
  readonly table: TableRef;
  /** Columns in the order the data holds them; undefined: by name (JSONEachRow, *WithNames). */
  readonly columns: readonly string[] | undefined;
  readonly format: InsertFormat;
  /**
   * The data, in pieces sent one after the other: slices of a chunk (a refused chunk's rows are not copied),
   * or a chunk's bytes as its buffer fills.
   */
  readonly body: readonly Buffer[] | AsyncIterable<Buffer>;
  readonly settings: Readonly<Record<string, string | number>>;
}

/**
 * ClickHouse refused the data itself (a value it cannot parse, a missing field): the rows are at fault, not
 * the server, so the loader isolates them. `rowHint` is the 1-based row ClickHouse named, when it named one.
 */
export class DataRejectedError extends Error {
  override readonly name = 'DataRejectedError';
  readonly code: string;
  readonly rowHint: number | undefined;

  constructor(message: string, code: string, rowHint: number | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.rowHint = rowHint;
  }
}

/** Whether a table drops a repeated insert that carries the same deduplication token. */
export interface Deduplication {
  /**
   * How many recent inserts the table remembers the tokens of (`replicated_deduplication_window`, or
   * `non_replicated_deduplication_window` for a plain MergeTree); 0 when it deduplicates nothing.
   */
  readonly window: number;
  /** The table's engine, for messages. */
  readonly engine: string;
}

/** The ClickHouse seam: the pipeline speaks only this, so tests can drive it against any engine. */
export interface Warehouse {
  capabilities(): Promise<ServerCapabilities>;
  /** Cached per container: schemas change rarely, and every file would otherwise pay a round trip. */
  describeTable(table: TableRef): Promise<readonly TableColumn[]>;
  /** Cached per container, like the schema. */
  deduplication(table: TableRef): Promise<Deduplication>;
  /**
   * Drops what is cached of the table, so that the next file describes it afresh: a file on it failed, which a
   * change to the table (a column added or dropped) may have caused.
   */
  forget(table: TableRef): void;
  /** Sends the bytes as they are; throws DataRejectedError when the data is at fault. */
  insertRaw(insert: RawInsert): Promise<void>;
}
