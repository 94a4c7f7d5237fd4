import type { Route } from '../config/schema.ts';
import { ChuteError } from '../errors.ts';
import type { InsertFormat, ServerCapabilities, TableColumn } from '../ports/warehouse.ts';
import type { Chunk } from './chunk.ts';
import { indexChunk } from './chunk-index.ts';

/** How a file's columns reach the table: which format, which column list, which settings. */
export interface ColumnPlan {
  readonly format: InsertFormat;
  /** Column list for the INSERT, in file order; undefined: ClickHouse matches by name. */
  readonly columns: readonly string[] | undefined;
  /** Put the header line in front of every chunk (for *WithNames formats). */
  readonly repeatHeader: boolean;
  /** Header columns the table lacks, ignored by `extraColumns: ignore`. */
  readonly ignored: readonly string[];
  readonly settings: Readonly<Record<string, number>>;
}

const INSERTABLE = new Set(['', 'DEFAULT', 'EPHEMERAL']);
/** A column that takes NULL when the file lacks it, LowCardinality-wrapped or not. */
const NULLABLE = /^(LowCardinality\()?Nullable\(/;

/**
 * Checks the file's columns against the table's real schema before any row is written, and picks the
 * fastest way to send them that is still exact.
 */
export function planColumns(
  route: Route,
  fileColumns: readonly string[],
  table: readonly TableColumn[],
  capabilities: ServerCapabilities,
  where: string,
): ColumnPlan {
  const byName = new Map(table.map((column) => [column.name, column]));
  const unknown: string[] = [];
  for (const name of fileColumns) {
    const column = byName.get(name);
    if (column === undefined) unknown.push(name);
    else if (!INSERTABLE.has(column.defaultKind)) {
      throw new ChuteError(
        'SCHEMA_MISMATCH',
        `${where}: column "${name}" is ${column.defaultKind} in ${route.table} and cannot be inserted; remove it from the file`,
      );
    }
  }
  if (unknown.length > 0 && route.extraColumns === 'fail') {
    throw new ChuteError(
      'SCHEMA_MISMATCH',
      `${where}: column(s) ${list(unknown)} are not in table ${route.table} (its columns: ${list(table.map((c) => c.name))}); fix the header, add the columns, or set extraColumns: "ignore"`,
    );
  }

  const present = new Set(fileColumns);
  const missing = table
    .filter((column) => column.defaultKind === '' && !NULLABLE.test(column.type) && !present.has(column.name))
    .map((column) => column.name);
  if (missing.length > 0) {
    throw new ChuteError(
      'SCHEMA_MISMATCH',
      `${where}: table ${route.table} needs column(s) ${list(missing)} (no default), which the file lacks; add them to the file or give them a DEFAULT in the table`,
    );
  }
  const ignoring = unknown.length > 0;
  if (route.format === 'ndjson') {
    return {
      format: 'JSONEachRow',
      columns: undefined,
      repeatHeader: false,
      ignored: unknown,
      settings: { input_format_skip_unknown_fields: route.extraColumns === 'ignore' ? 1 : 0 },
    };
  }
  if (!ignoring) {
    return {
      format: route.format === 'csv' ? 'CSV' : 'TabSeparated',
      columns: fileColumns,
      repeatHeader: false,
      ignored: [],
      settings: {},
    };
  }
  if (!capabilities.headerMatching) {
    throw new ChuteError(
      'SCHEMA_MISMATCH',
      `${where}: column(s) ${list(unknown)} are not in table ${route.table}, and ClickHouse ${capabilities.version} cannot skip columns by header name (extraColumns: "ignore" needs 19.x or later); remove them from the file or add them to the table`,
    );
  }
  return {
    format: route.format === 'csv' ? 'CSVWithNames' : 'TabSeparatedWithNames',
    columns: undefined,
    repeatHeader: true,
    ignored: unknown,
    settings: { input_format_with_names_use_header: 1, input_format_skip_unknown_fields: 1 },
  };
}

/** Rows of a chunk NDJSON's columns are planned from, at most. */
export const NDJSON_PLAN_ROWS = 100;

/**
 * NDJSON has no header: the first of the chunk's first NDJSON_PLAN_ROWS rows that parses as an object names the
 * columns to check.
 */
export function planNdjson(
  route: Route,
  chunk: Chunk,
  columns: readonly TableColumn[],
  capabilities: ServerCapabilities,
  where: string,
): ColumnPlan {
  const index = indexChunk(chunk, 'ndjson', ',');
  for (let i = 0; i < Math.min(chunk.rows, NDJSON_PLAN_ROWS); i++) {
    const start = index.offsets[i] ?? 0;
    const end = index.offsets[i + 1] ?? start;
    try {
      const value: unknown = JSON.parse(chunk.body.toString('utf8', start, end));
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        return planColumns(
          route,
          Object.keys(value),
          columns,
          capabilities,
          `${where}, line ${index.lines[i]}`,
        );
      }
    } catch {
      // A row that does not parse is ClickHouse's to reject; look at the next one.
    }
  }
  return planColumns(
    route,
    columns.filter((c) => c.defaultKind === '').map((c) => c.name),
    columns,
    capabilities,
    where,
  );
}

function list(names: readonly string[]): string {
  const shown = names.slice(0, 10).map((name) => `"${name}"`);
  return names.length > 10 ? `${shown.join(', ')} and ${names.length - 10} more` : shown.join(', ');
}
