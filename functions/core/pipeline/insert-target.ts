import { createHash } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import type { TableRef } from '../clickhouse/sql.ts';
import { fieldDelimiter } from '../config/routes.ts';
import type { ChunkingConfig, Route } from '../config/schema.ts';
import type { VersionKey } from '../ports/ledger.ts';
import type { ServerCapabilities, TableColumn, Warehouse } from '../ports/warehouse.ts';
import type { ChunkInsertTarget } from './chunk-loader.ts';
import type { ColumnPlan } from './column-plan.ts';
import { createRowScreen } from './row-screen.ts';

/**
 * How every insert of one file is sent: the format and columns the plan chose, the settings that keep an insert
 * exact (no tolerated errors, one block, synchronous), and a deduplication token derived from the object version,
 * the chunk and the row range, so that the same rows always carry the same token.
 */
export function insertTarget(
  warehouse: Warehouse,
  table: TableRef,
  plan: ColumnPlan,
  route: Route,
  capabilities: ServerCapabilities,
  chunking: ChunkingConfig,
  version: VersionKey,
  tableColumns: readonly TableColumn[],
  cut: string,
): ChunkInsertTarget {
  // The cut rules are in the token: chunk N's token then always names the same bytes, even for a retry by a
  // chute with other chunk settings that finds no chunk record to tell it (CHUNKING_CHANGED needs one).
  const tokenBase = `${versionToken(version)}:${createHash('sha256').update(cut).digest('hex').slice(0, 12)}`;
  const settings: Record<string, string | number> = {
    // A user profile that tolerates errors would drop rows without a trace: never here.
    input_format_allow_errors_num: 0,
    input_format_allow_errors_ratio: 0,
    // One chunk must stay one block, or a failed insert could leave part of it behind.
    max_insert_block_size: 1_048_576,
    ...plan.settings,
  };
  // Rows must not be dropped, invented or re-split behind chute's back (STRICT_TEXT_SETTINGS).
  if (route.format !== 'ndjson') for (const name of capabilities.strictTextSettings) settings[name] = 0;
  if (route.format === 'csv') {
    settings.format_csv_delimiter = route.delimiter ?? ',';
    // The scanner reads double quotes as CSV quotes, and the poison below relies on them; single quotes are
    // data to it, so they must be to ClickHouse too (18.16 reads single-quoted fields by default: a line feed
    // inside one would make one row of what chute counts as two).
    settings.format_csv_allow_double_quotes = 1;
    settings.format_csv_allow_single_quotes = 0;
  }
  if (capabilities.asyncInsertSetting) settings.async_insert = 0;
  if (capabilities.dedupToken) settings.insert_deduplicate = 1;
  if (capabilities.parallelParsing) {
    settings.min_chunk_bytes_for_parallel_parsing = Math.max(
      10 * 1024 * 1024,
      chunking.maxBytes + chunking.maxRecordBytes + 4096,
    );
  }
  return {
    base: { table, columns: plan.columns, format: plan.format },
    settings,
    token: capabilities.dedupToken
      ? (index, range) => `${tokenBase}:${index}:${range === undefined ? 'whole' : `${range[0]}-${range[1]}`}`
      : () => undefined,
    poison: poisonFor(plan.format, route.delimiter ?? ','),
    insert: (insert) => warehouse.insertRaw(insert),
    explain: plan.columns === undefined ? undefined : fieldCountCheck(route, plan.columns),
    screen:
      plan.columns === undefined
        ? undefined
        : createRowScreen(
            route.format,
            fieldDelimiter(route),
            plan.columns,
            tableColumns,
            nullTextFor(capabilities, route),
          ),
  };
}

/**
 * A record no table accepts in each format, sent after whole records to end an insert that cannot be finished
 * (measured on 18.16 and chDB into String, Nullable(String) and (UInt32, String) tables, with a header line and
 * without; CSV on chDB also with a variable number of columns allowed): an unclosed JSON string; a TSV
 * backslash escaping nothing; a CSV quoted field followed by a character that is not the delimiter.
 */
function poisonFor(format: ColumnPlan['format'], csvDelimiter: string): Buffer {
  switch (format) {
    case 'CSV':
    case 'CSVWithNames':
      return Buffer.from(`"a"${csvDelimiter === 'b' ? 'c' : 'b'}\n`);
    case 'TabSeparated':
    case 'TabSeparatedWithNames':
      return Buffer.from('\\');
    case 'JSONEachRow':
      return Buffer.from('{"');
  }
}

/** Names one object version: the prefix of every deduplication token of its inserts. */
export function versionToken(version: VersionKey): string {
  return createHash('sha256')
    .update(`${version.bucket}\n${version.key}\n${version.version}`)
    .digest('hex')
    .slice(0, 32);
}

/** For a rejected CSV/TSV row: `expected 3 fields (id, customer, amount), found 4`, when the count is off. */
function fieldCountCheck(route: Route, columns: readonly string[]): (raw: string) => string | undefined {
  const names = columns.length > 8 ? `${columns.slice(0, 8).join(', ')}, …` : columns.join(', ');
  return (raw) => {
    let found: number;
    if (route.format === 'tsv') found = raw.split('\t').length;
    else {
      try {
        const [fields] = parse(raw, { delimiter: route.delimiter ?? ',', relax_quotes: true }) as string[][];
        found = fields?.length ?? 0;
      } catch {
        return undefined;
      }
    }
    return found === columns.length
      ? undefined
      : `expected ${columns.length} fields (${names}), found ${found}`;
  };
}

/** The text the server reads as NULL in this route's format (CSV's for NDJSON, which has no screen). */
export function nullTextFor(capabilities: ServerCapabilities, route: Route): string {
  return capabilities.nullRepresentation[route.format === 'tsv' ? 'tsv' : 'csv'];
}
