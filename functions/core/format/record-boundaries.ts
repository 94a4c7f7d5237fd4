import type { DataFormat } from '../config/schema.ts';

/**
 * Where records end, found with the engine's native `indexOf` rather than a byte-by-byte loop: a loader that
 * looked at every byte in JavaScript would run at a fifth of ClickHouse's speed (FIELD-NOTES section 6).
 * Values are never decoded here; ClickHouse parses them.
 *
 * CSV is read as ClickHouse reads it: a quote opens a field only at the field's start (after any spaces and tabs
 * there, which ClickHouse skips: measured on 18.16 and chDB, `1, "a<LF>b",2` is one row), `""` inside quotes is
 * a literal quote, and a line feed inside quotes belongs to the field. TSV records are lines, except that a line
 * feed escaped by a backslash belongs to the value (ClickHouse reads `\` + line feed as a line feed in the
 * field). NDJSON records are lines.
 */

export const LF = 0x0a;
export const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const TAB = 0x09;

/** What the scan knows at a buffer's edge, so a record may span any number of buffers. */
export interface BoundaryState {
  inQuotes: boolean;
  /** A quote was the last byte inside quotes: the next byte decides between `""` and the field's end. */
  quoteAtEdge: boolean;
  /**
   * CSV: the bytes since the last delimiter or record start are all spaces and tabs (or none), so a quote next
   * would open a field: what a quote at the very start of the next buffer cannot look back for.
   */
  atFieldStart: boolean;
  /** Line feeds seen inside quoted fields (or escaped, in TSV), for line numbers. */
  quotedLineFeeds: number;
  /** TSV: backslashes ending the bytes scanned so far; an odd run escapes a line feed that follows. */
  backslashes: number;
}

export function freshBoundaryState(): BoundaryState {
  return {
    inQuotes: false,
    quoteAtEdge: false,
    atFieldStart: true,
    quotedLineFeeds: 0,
    backslashes: 0,
  };
}

/** Told of each record end: its line feed's index; false stops the scan (a full chunk). */
export type RecordVisitor = (end: number) => boolean;

/**
 * Told of a plain run: records end at `end` and at every later line feed before `limit`, and none of those
 * later ones can be inside a quoted field or escaped (no quote, or backslash, lies between them). The visitor
 * takes them in file order, finding the later line feeds itself, and returns the index after the last one it
 * took: negated if it stopped there (a full chunk), so the scan stops too. A call per run rather than per
 * record saves most of what finding record ends costs, on the records nearly every file is made of.
 */
export type RunVisitor = (end: number, limit: number) => number;

/** A run visitor that hands `visit` one record end at a time, for callers that want no more. */
export function eachRecord(buf: Buffer, visit: RecordVisitor): RunVisitor {
  return (first, limit) => {
    for (let end = first; ; ) {
      if (!visit(end)) return -(end + 1);
      const next = buf.indexOf(LF, end + 1);
      if (next < 0 || next >= limit) return end + 1;
      end = next;
    }
  };
}

/**
 * Hands `visitRun` every record that ends in `buf` at or after `from`, a plain run at a time (a record with a
 * quoted or escaped line feed ends a run of its own), and leaves `state` ready for the next buffer. Returns
 * the index after the last record taken when the visitor stopped the scan, else `buf.length`.
 */
export function scanRecordEnds(
  format: DataFormat,
  buf: Buffer,
  from: number,
  delimiter: number,
  state: BoundaryState,
  visitRun: RunVisitor,
): number {
  if (format === 'csv') return scanCsv(buf, from, delimiter, state, visitRun);
  return format === 'tsv' ? scanTsv(buf, from, state, visitRun) : scanLines(buf, from, visitRun);
}

function scanTsv(buf: Buffer, from: number, state: BoundaryState, visitRun: RunVisitor): number {
  const n = buf.length;
  let pos = from;
  let nextBackslash = -1;
  for (;;) {
    const end = buf.indexOf(LF, pos);
    if (end < 0) break;
    const escaped = backslashesBefore(buf, end, pos, state.backslashes) % 2 === 1;
    state.backslashes = 0;
    if (escaped) {
      pos = end + 1;
      state.quotedLineFeeds++;
      continue;
    }
    // A line feed before the next backslash cannot be escaped.
    if (nextBackslash <= end) nextBackslash = find(buf, BACKSLASH, end, n);
    const taken = visitRun(end, nextBackslash);
    if (taken < 0) return -taken;
    pos = taken;
  }
  if (n > pos) state.backslashes = backslashesBefore(buf, n, pos, state.backslashes);
  return n;
}

/** The run of backslashes just before `at`, counting `carried` ones from before `from` when the run reaches it. */
function backslashesBefore(buf: Buffer, at: number, from: number, carried: number): number {
  let i = at - 1;
  while (i >= from && buf[i] === BACKSLASH) i--;
  return at - 1 - i + (i < from ? carried : 0);
}

function scanLines(buf: Buffer, from: number, visitRun: RunVisitor): number {
  for (let pos = from; ; ) {
    const end = buf.indexOf(LF, pos);
    if (end < 0) return buf.length;
    const taken = visitRun(end, buf.length);
    if (taken < 0) return -taken;
    pos = taken;
  }
}

function scanCsv(
  buf: Buffer,
  from: number,
  delimiter: number,
  state: BoundaryState,
  visitRun: RunVisitor,
): number {
  const n = buf.length;
  let pos = from;
  if (state.quoteAtEdge && pos < n) {
    state.quoteAtEdge = false;
    if (buf[pos] === QUOTE)
      pos++; // `""`: still inside the quoted field
    else state.inQuotes = false;
  }
  // The next quote and the next line feed at or after `pos`, each found once and reused until passed;
  // `n` stands for "none in this buffer", so a buffer without quotes costs one search, not one per record.
  let nextQuote = find(buf, QUOTE, pos, n);
  let nextLf = find(buf, LF, pos, n);
  while (pos < n) {
    if (nextQuote < pos) nextQuote = find(buf, QUOTE, pos, n);
    if (nextLf < pos) nextLf = find(buf, LF, pos, n);
    if (state.inQuotes) {
      const close = nextQuote;
      while (nextLf < close) {
        state.quotedLineFeeds++;
        nextLf = find(buf, LF, nextLf + 1, n);
      }
      if (close === n) return n;
      if (close + 1 === n) {
        state.quoteAtEdge = true;
        state.atFieldStart = false;
        return n;
      }
      pos = buf[close + 1] === QUOTE ? close + 2 : close + 1; // `""` is a quote inside the field
      if (pos === close + 1) state.inQuotes = false;
      continue;
    }
    if (nextQuote < nextLf) {
      if (opensField(state, buf, nextQuote, delimiter, from)) state.inQuotes = true;
      pos = nextQuote + 1;
      continue;
    }
    if (nextLf === n) break;
    state.atFieldStart = true;
    // Outside quotes, every line feed before the next quote ends a record.
    const taken = visitRun(nextLf, nextQuote);
    if (taken < 0) return -taken;
    pos = taken;
  }
  // The last byte that is not a blank says whether a quote in the next buffer could open a field: a record end
  // or a delimiter, yes; a closing quote or field text, no; nothing here but blanks, as before this buffer.
  if (!state.inQuotes) state.atFieldStart = opensField(state, buf, n, delimiter, from);
  return n;
}

function find(buf: Buffer, byte: number, from: number, none: number): number {
  const at = buf.indexOf(byte, from);
  return at < 0 ? none : at;
}

/**
 * A quote at `pos` opens a field when only spaces and tabs (not the delimiter itself) stand between it and a
 * delimiter or the record's start; what came before `floor`, where this scan began, is `state.atFieldStart`.
 * Outside quotes the last byte that is not a blank is never inside a quoted field, so looking back is exact.
 */
function opensField(
  state: BoundaryState,
  buf: Buffer,
  pos: number,
  delimiter: number,
  floor: number,
): boolean {
  let i = pos - 1;
  while (i >= floor && isBlank(buf[i] as number, delimiter)) i--;
  if (i < floor) return state.atFieldStart;
  const before = buf[i];
  return before === delimiter || before === LF;
}

/** A space or a tab that is not the delimiter: what ClickHouse skips before a CSV field. */
export function isBlank(byte: number, delimiter: number): boolean {
  return byte !== delimiter && (byte === SPACE || byte === TAB);
}
