import type { DataFormat } from '../config/schema.ts';
import { isBlank } from '../format/record-boundaries.ts';
import type { TableColumn } from '../ports/warehouse.ts';
import type { Chunk } from './chunk.ts';
import type { ChunkIndex } from './chunk-index.ts';

/** Rows of a chunk that ClickHouse is certain to refuse, with why: row index → reason. */
export type RowScreen = (chunk: Chunk, index: ChunkIndex) => Map<number, string>;

const QUOTE = 0x22;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const BACKSLASH = 0x5c;
const TAB = 0x09;
const SPACE = 0x20;
const SINGLE_QUOTE = 0x27;

/** Numbers, dates and times: a value without a single digit cannot be one. */
/** What a Float column accepts without a digit. */
const NOT_A_NUMBER = /^[+-]?(nan|inf|infinity)$/i;
/** Digit-less text some number parsers read as 0. */
const SIGNS_AND_POINTS = /^"?[\s+\-.eE]*"?$/;

const NEEDS_DIGITS =
  /^(Nullable\()?(U?Int\d+|Float\d+|Decimal\d*\(.*\)|Date|Date32|DateTime(64)?(\(.*\))?)\)?$/;

/**
 * A cheap look at a chunk ClickHouse has refused, to take out in one pass the rows it is certain to refuse
 * too: a wrong number of fields, or a number or date column holding text without a digit ("n/a",
 * "yesterday"). Only certainties: anything subtler is left to ClickHouse, row by row. Without this, each bad
 * row costs its own round of inserts; with it, a chunk with a few bad rows usually loads in two inserts.
 *
 * "Certain" is what makes screening before the first insert safe under exactly-once: a row screened out must
 * be one no insert of it could load, or a retry that offered the chunk whole would load rows the first
 * attempt had left out. So the screen reads CSV as ClickHouse does where it can (blanks before a quoted field),
 * and gives up wherever a server may read a row otherwise: one empty (or blank) field past the last
 * (ClickHouse takes a trailing delimiter), any row with a field that opens with a single quote (servers that
 * read single-quoted CSV fields, 18.16 by default), and the server's own text for NULL (`nullText`, from
 * `format_{csv,tsv}_null_representation`). The settings that would let a server load a
 * short row or a bad value as defaults are turned off in every insert (STRICT_TEXT_SETTINGS).
 */
export function createRowScreen(
  format: DataFormat,
  delimiter: string,
  columns: readonly string[],
  table: readonly TableColumn[],
  nullText = '\\N',
): RowScreen | undefined {
  if (format === 'ndjson') return undefined;
  const known = screenColumns(columns, table, nullText);
  const separator = delimiter.charCodeAt(0);
  return (chunk, index) => {
    const found = new Map<number, string>();
    const body = chunk.body;
    for (let row = 0; row < chunk.rows; row++) {
      const start = index.offsets[row] ?? 0;
      const end = (index.offsets[row + 1] ?? start) - 1; // the line feed
      const reason =
        format === 'csv' ? screenCsv(body, start, end, separator, known) : screenTsv(body, start, end, known);
      if (reason !== undefined) found.set(row, reason);
    }
    return found;
  };
}

/** The file's columns as the screen sees them, from the table's types and the server's NULL text. */
export function screenColumns(
  columns: readonly string[],
  table: readonly TableColumn[],
  nullText: string,
): ScreenColumns {
  const types = new Map(table.map((c) => [c.name, c.type]));
  return {
    names: columns,
    needsDigits: columns.map((name) => NEEDS_DIGITS.test(types.get(name) ?? '')),
    types,
    shown: columns.length > 8 ? `${columns.slice(0, 8).join(', ')}, …` : columns.join(', '),
    nullText,
  };
}

/** What the screen knows of the file's columns, in file order. */
export interface ScreenColumns {
  readonly names: readonly string[];
  readonly needsDigits: readonly boolean[];
  readonly types: ReadonlyMap<string, string>;
  /** The names as a message lists them. */
  readonly shown: string;
  /** What the server reads as NULL in this format (`format_csv_null_representation`), besides `NULL`. */
  readonly nullText: string;
}

/*
 * The two scanners below run over every byte of a refused chunk, so they are written as tight loops, one field
 * at a time: digits are only looked for in the fields that need them, and a field that does not is skipped to
 * its separator with a single comparison a byte. (The byte-at-a-time state machine they replaced took
 * about 6.5 ns a byte: half a second for ten refused 8 MiB chunks.)
 */

function screenCsv(
  body: Buffer,
  start: number,
  end: number,
  separator: number,
  columns: ScreenColumns,
): string | undefined {
  let stop = end;
  if (stop > start && body[stop - 1] === 0x0d) stop--; // CRLF
  return plainCsvRow(body, start, stop, separator, columns.needsDigits)
    ? undefined
    : screenCsvFields(body, start, stop, separator, columns);
}

/**
 * The rows nearly every chunk is made of, cleared in one pass at about 60% of the cost of the field-by-field
 * screen: the expected number of fields, none opening with a quote or a blank (after which a quote would open
 * it, and a quoted field may hold separators), and each that needs a digit starting with one. Such a row is one
 * the full screen passes too (a field opening with a single quote included: the full screen leaves those rows
 * to ClickHouse); anything else is left to it. (Exported, with the full screen, for the test that holds the two
 * to that.)
 */
export function plainCsvRow(
  body: Buffer,
  start: number,
  stop: number,
  separator: number,
  needsDigits: readonly boolean[],
): boolean {
  const expected = needsDigits.length;
  let i = start;
  for (let field = 0; ; field++) {
    if (field === expected) return false;
    const first = i < stop ? (body[i] as number) : -1;
    if (needsDigits[field] === true) {
      if (first < DIGIT_0 || first > DIGIT_9) return false;
    } else if (first === QUOTE || first === SPACE || first === TAB) return false;
    while (i < stop && body[i] !== separator) i++;
    if (i >= stop) return field + 1 === expected;
    i++; // past the separator
  }
}

/** The full screen of one CSV row (CR already off), field by field: why ClickHouse will refuse it, if it must. */
export function screenCsvFields(
  body: Buffer,
  start: number,
  stop: number,
  separator: number,
  columns: ScreenColumns,
): string | undefined {
  const expected = columns.names.length;
  let field = 0;
  let problem: string | undefined;
  let singleQuoted = false;
  let lastFieldEmpty = false;
  let i = start;
  for (;;) {
    const fieldStart = i;
    const wanted = problem === undefined && field < expected && columns.needsDigits[field] === true;
    let digits = false;
    // ClickHouse skips spaces and tabs before a field (when neither is the delimiter): a quote after them
    // still opens it.
    let opening = i;
    while (opening < stop && isBlank(body[opening] as number, separator)) opening++;
    if (opening < stop && body[opening] === SINGLE_QUOTE) singleQuoted = true;
    if (opening < stop && body[opening] === QUOTE) {
      // A quote opens a field only at its start; inside, a doubled quote is a literal one.
      for (i = opening + 1; ; i++) {
        if (i >= stop) return undefined; // unterminated: ClickHouse will say what is wrong with the quoting
        const c = body[i] as number;
        if (c === QUOTE) {
          if (i + 1 < stop && body[i + 1] === QUOTE) i++;
          else {
            i++;
            break;
          }
        } else if (wanted && c >= DIGIT_0 && c <= DIGIT_9) digits = true;
      }
    }
    if (wanted && !digits) {
      const first = body[i] as number;
      // Most numbers and dates start with a digit: then the rest is only skipped.
      digits = i < stop && first >= DIGIT_0 && first <= DIGIT_9;
    }
    if (wanted && !digits) {
      for (; i < stop; i++) {
        const c = body[i] as number;
        if (c === separator) break;
        if (c >= DIGIT_0 && c <= DIGIT_9) digits = true;
      }
      if (!digits) problem = checkField(body, fieldStart, i, field, columns);
    } else {
      while (i < stop && body[i] !== separator) i++;
    }
    lastFieldEmpty = onlyBlanks(body, fieldStart, i, separator);
    field++;
    if (i >= stop) break;
    i++; // past the separator
  }
  // A server that reads single-quoted fields (18.16 by default) may count and align this row otherwise.
  if (singleQuoted) return undefined;
  // ClickHouse takes one delimiter (and blanks) after the last field.
  if (field === expected + 1 && lastFieldEmpty) return problem;
  return verdict(field, problem, columns);
}

function onlyBlanks(body: Buffer, from: number, to: number, separator: number): boolean {
  for (let i = from; i < to; i++) if (!isBlank(body[i] as number, separator)) return false;
  return true;
}

function screenTsv(body: Buffer, start: number, end: number, columns: ScreenColumns): string | undefined {
  const expected = columns.names.length;
  let field = 0;
  let problem: string | undefined;
  let i = start;
  for (;;) {
    const fieldStart = i;
    const wanted = problem === undefined && field < expected && columns.needsDigits[field] === true;
    let digits = false;
    for (; i < end; i++) {
      const c = body[i] as number;
      if (c === TAB) break;
      if (c === BACKSLASH)
        i++; // the escaped byte is data, never a separator
      else if (wanted && c >= DIGIT_0 && c <= DIGIT_9) digits = true;
    }
    if (wanted && !digits) problem = checkField(body, fieldStart, Math.min(i, end), field, columns);
    field++;
    if (i >= end) break;
    i++; // past the tab
  }
  return verdict(field, problem, columns);
}

/** A wrong field count explains any value out of place, so it is the reason given first. */
function verdict(fields: number, problem: string | undefined, columns: ScreenColumns): string | undefined {
  const expected = columns.names.length;
  return fields === expected ? problem : `expected ${expected} fields (${columns.shown}), found ${fields}`;
}

/** A field without a digit, in a column that needs one: why ClickHouse will refuse it, unless it is empty or NULL. */
function checkField(
  body: Buffer,
  from: number,
  to: number,
  field: number,
  columns: ScreenColumns,
): string | undefined {
  if (to === from) return undefined;
  const text = body.toString('utf8', from, Math.min(to, from + 200)).trim();
  if (text === '' || text === '""') return undefined; // empty: the column's default
  // NULL: into a Nullable column, or the column's default where input_format_null_as_default is on (the
  // default of current servers). Not a certainty either way, so left to ClickHouse.
  if (text === 'NULL' || text === '\\N' || text === columns.nullText || text === `"${columns.nullText}"`)
    return undefined;
  const name = columns.names[field] ?? '';
  // Floats take nan and inf (any case, signed, quoted or not) without a digit.
  if (/Float/.test(columns.types.get(name) ?? '') && NOT_A_NUMBER.test(text.replace(/^"(.*)"$/, '$1')))
    return undefined;
  // A bare sign, point or exponent is read as 0 by number parsers (18.16 takes `-` into Int32, `.` and `e`
  // into Float64 and Decimal; 26.x `-` into Decimal): not a certainty.
  if (SIGNS_AND_POINTS.test(text)) return undefined;
  return `column ${name} (${columns.types.get(name)}) cannot take ${JSON.stringify(text)}: a number or date needs digits`;
}
