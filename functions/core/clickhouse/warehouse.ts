import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import {
  DataRejectedError,
  type Deduplication,
  type RawInsert,
  type ServerCapabilities,
  type TableColumn,
  type Warehouse,
} from '../ports/warehouse.ts';
import { clickHouseErrorCode } from './error-code.ts';
import {
  quoteIdentifier,
  quoteString,
  quoteTable,
  settingsClause,
  type TableRef,
  tableLabel,
} from './sql.ts';

/**
 * Server error codes that mean "these rows are wrong", as opposed to "the server is in trouble". Only these
 * send a chunk to row isolation; anything else fails the file so that it is retried whole.
 */
const DATA_ERROR_CODES = new Set([
  '6', // CANNOT_PARSE_TEXT
  '16', // NO_SUCH_COLUMN_IN_TABLE (unknown JSON key on old servers)
  '19', // SIZE_OF_FIXED_STRING_DOESNT_MATCH
  '25', // CANNOT_PARSE_ESCAPE_SEQUENCE
  '26', // CANNOT_PARSE_QUOTED_STRING
  '27', // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  '32', // ATTEMPT_TO_READ_AFTER_EOF
  '33', // CANNOT_READ_ALL_DATA
  '36', // BAD_ARGUMENTS (unknown Enum element on old servers)
  '38', // CANNOT_PARSE_DATE
  '41', // CANNOT_PARSE_DATETIME
  '53', // TYPE_MISMATCH
  '69', // ARGUMENT_OUT_OF_BOUND
  '70', // CANNOT_CONVERT_TYPE
  '72', // CANNOT_PARSE_NUMBER
  '117', // INCORRECT_DATA
  '131', // TOO_LARGE_STRING_SIZE
  '349', // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  '376', // CANNOT_PARSE_UUID
  '377', // CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING
  '469', // VIOLATED_CONSTRAINT
  '691', // UNKNOWN_ELEMENT_OF_ENUM
]);

/**
 * Settings that, when on (by default, or in the user's profile), make a CSV or TSV insert drop, invent or
 * re-split rows behind chute's back, so that "rows in the table + rows in rejects = rows in the file" would no
 * longer hold or a row ClickHouse should refuse would load. chute turns off each one the server has.
 * - `*_detect_header`: on by default in current servers; a chunk whose first row reads like the column names
 *   (a header repeated mid-file, from concatenated files) lost that row without a word (measured on chDB
 *   26.7: the row was neither inserted nor refused).
 * - `*_skip_first_lines`: a profile could skip the first lines of every chunk.
 * - `*_allow_variable_number_of_columns`, `input_format_csv_use_default_on_bad_values`: a short row or a bad
 *   value would load as defaults instead of being rejected (measured on chDB).
 * - `input_format_csv_allow_whitespace_or_tab_as_delimiter`, `input_format_csv_allow_cr_end_of_line`: fields
 *   and records would end where chute's scanner does not end them.
 */
export const STRICT_TEXT_SETTINGS = [
  'input_format_csv_detect_header',
  'input_format_tsv_detect_header',
  'input_format_csv_skip_first_lines',
  'input_format_tsv_skip_first_lines',
  'input_format_csv_allow_variable_number_of_columns',
  'input_format_tsv_allow_variable_number_of_columns',
  'input_format_csv_use_default_on_bad_values',
  'input_format_csv_allow_whitespace_or_tab_as_delimiter',
  'input_format_csv_allow_cr_end_of_line',
] as const;

const PROBED_SETTINGS = [
  'insert_deduplication_token',
  'async_insert',
  'input_format_with_names_use_header',
  'min_chunk_bytes_for_parallel_parsing',
  'input_format_csv_empty_as_default',
  'format_csv_null_representation',
  'format_tsv_null_representation',
  ...STRICT_TEXT_SETTINGS,
] as const;

export interface WarehouseOptions {
  /**
   * Send each insert's settings in the INSERT's own SETTINGS clause instead of as request parameters. Default
   * false. For chDB in this process: its connection turns request parameters into SET statements run ahead of
   * the query, with the data inlined after it, and each SET costs about a pass over that data (measured: one
   * 16 MiB CSV chunk with chute's nine insert settings took 2.3-2.7 s that way, 0.53-0.55 s with the same
   * settings in the clause, 0.44-0.63 s with none). HTTP servers keep request parameters: 18.16 has no
   * SETTINGS clause in INSERT, and some later versions did not apply format settings given there (ClickHouse
   * issue #44348).
   */
  readonly settingsInQuery?: boolean | undefined;
}

/** The Warehouse port over one @clickhouse/client: an HTTP server, ClickHouse Cloud, or chDB in-process. */
export class ClickHouseWarehouse implements Warehouse {
  readonly #client: ClickHouseClient;
  readonly #settingsInQuery: boolean;
  #capabilities: Promise<ServerCapabilities> | undefined;
  readonly #schemas = new Map<string, Promise<readonly TableColumn[]>>();
  readonly #deduplication = new Map<string, Promise<Deduplication>>();

  constructor(client: ClickHouseClient, options: WarehouseOptions = {}) {
    this.#client = client;
    this.#settingsInQuery = options.settingsInQuery === true;
  }

  capabilities(): Promise<ServerCapabilities> {
    this.#capabilities ??= this.#probe().catch((error: unknown) => {
      this.#capabilities = undefined;
      throw error;
    });
    return this.#capabilities;
  }

  describeTable(table: TableRef): Promise<readonly TableColumn[]> {
    const key = tableLabel(table);
    let schema = this.#schemas.get(key);
    if (schema === undefined) {
      schema = this.#describe(table).catch((error: unknown) => {
        this.#schemas.delete(key);
        throw error;
      });
      this.#schemas.set(key, schema);
    }
    return schema;
  }

  deduplication(table: TableRef): Promise<Deduplication> {
    const key = tableLabel(table);
    let found = this.#deduplication.get(key);
    if (found === undefined) {
      found = this.#checkDeduplication(table).catch((error: unknown) => {
        this.#deduplication.delete(key);
        throw error;
      });
      this.#deduplication.set(key, found);
    }
    return found;
  }

  forget(table: TableRef): void {
    const key = tableLabel(table);
    this.#schemas.delete(key);
    this.#deduplication.delete(key);
  }

  async insertRaw(insert: RawInsert): Promise<void> {
    const columns =
      insert.columns === undefined ? '' : ` (${insert.columns.map(quoteIdentifier).join(', ')})`;
    const inQuery = this.#settingsInQuery && Object.keys(insert.settings).length > 0;
    const clause = inQuery ? ` SETTINGS ${settingsClause(insert.settings)}` : '';
    const query = `INSERT INTO ${quoteTable(insert.table)}${columns}${clause} FORMAT ${insert.format}`;
    try {
      const result = await this.#client.exec({
        query,
        values: Readable.from(insert.body, { objectMode: false }),
        ...(inQuery ? {} : { clickhouse_settings: insert.settings }),
      });
      // The response must be read to the end, or its socket is never handed back to the pool.
      result.stream.resume();
      await finished(result.stream);
    } catch (error) {
      const code = clickHouseErrorCode(error);
      if (code !== undefined && DATA_ERROR_CODES.has(code) && error instanceof Error) {
        const hint = /\(at row (\d+)\)/.exec(error.message);
        throw new DataRejectedError(firstLines(error.message), code, hint ? Number(hint[1]) : undefined, {
          cause: error,
        });
      }
      throw error;
    }
  }

  async #probe(): Promise<ServerCapabilities> {
    const list = PROBED_SETTINGS.map(quoteString).join(', ');
    const [versionRows, settingRows] = await Promise.all([
      this.#rows<{ version: string }>('SELECT version() AS version'),
      this.#rows<{ name: string; value: string }>(
        `SELECT name, value FROM system.settings WHERE name IN (${list})`,
      ),
    ]);
    const known = new Set(settingRows.map((row) => row.name));
    const settingValue = (name: string) => settingRows.find((row) => row.name === name)?.value;
    return {
      version: versionRows[0]?.version ?? 'unknown',
      dedupToken: known.has('insert_deduplication_token'),
      asyncInsertSetting: known.has('async_insert'),
      headerMatching: known.has('input_format_with_names_use_header'),
      parallelParsing: known.has('min_chunk_bytes_for_parallel_parsing'),
      csvEmptyAsDefault: known.has('input_format_csv_empty_as_default'),
      strictTextSettings: STRICT_TEXT_SETTINGS.filter((name) => known.has(name)),
      nullRepresentation: {
        csv: settingValue('format_csv_null_representation') ?? '\\N',
        tsv: settingValue('format_tsv_null_representation') ?? '\\N',
      },
    };
  }

  /**
   * The table's deduplication window: `replicated_deduplication_window` for Replicated and Shared (ClickHouse
   * Cloud) engines (on by default, but a table or a server may set it to 0), `non_replicated_deduplication_window`
   * for a plain MergeTree (off by default); each set on the table, or else the server's MergeTree default.
   * Other engines (Distributed, Buffer, views) are not read: 0.
   */
  async #checkDeduplication(table: TableRef): Promise<Deduplication> {
    const [row] = await this.#rows<{ engine: string; engine_full: string }>(
      `SELECT engine, engine_full FROM system.tables WHERE database = ${quoteString(table.database)} AND name = ${quoteString(table.table)}`,
    );
    const engine = row?.engine ?? 'unknown';
    if (!engine.endsWith('MergeTree')) return { window: 0, engine };
    const setting = /^(Replicated|Shared)/.test(engine)
      ? 'replicated_deduplication_window'
      : 'non_replicated_deduplication_window';
    // Not the tail of the other setting's name: `non_replicated_…` ends in `replicated_…`.
    const onTable = new RegExp(`(?<![A-Za-z_])${setting}\\s*=\\s*(\\d+)`).exec(row?.engine_full ?? '');
    if (onTable) return { window: Number(onTable[1]), engine };
    const [fallback] = await this.#rows<{ value: string }>(
      `SELECT value FROM system.merge_tree_settings WHERE name = ${quoteString(setting)}`,
    );
    return { window: Number(fallback?.value ?? 0), engine };
  }

  async #describe(table: TableRef): Promise<readonly TableColumn[]> {
    const rows = await this.#rows<{ name: string; type: string; default_type: string }>(
      `DESCRIBE TABLE ${quoteTable(table)}`,
    );
    return rows.map((row) => ({ name: row.name, type: row.type, defaultKind: row.default_type }));
  }

  async #rows<T>(query: string): Promise<T[]> {
    const result = await this.#client.query({ query, format: 'JSONEachRow' });
    return result.json<T>();
  }
}

/**
 * ClickHouse appends a long per-column dump to parse errors. Its first paragraph says what went wrong and its
 * `ERROR:` lines say why; the rest is noise in a rejects file.
 */
function firstLines(message: string): string {
  const cut = message.indexOf('\n\n');
  let text = (cut < 0 ? message : message.slice(0, cut)).trim();
  const why = message
    .split('\n')
    .filter((line) => line.startsWith('ERROR:'))
    .join(' ');
  if (why !== '' && !text.includes(why)) text = `${text} ${why}`;
  // Cut by code points: half an emoji pair would make the load history's JSON record unreadable to its view.
  const points = Array.from(text);
  return points.length > 600 ? `${points.slice(0, 600).join('')}…` : text;
}
