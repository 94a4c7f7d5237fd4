import type { DataFormat } from '../config/schema.ts';

/**
 * Finds record boundaries in a byte stream without parsing values: ClickHouse parses the values far faster
 * than JS can (FIELD-NOTES section 6), so the hot path only needs to know where each record ends, how many
 * fields it has, and which line it started on. Precise parsing (csv-parse) is kept for the header and for
 * describing bad rows.
 *
 * CSV follows ClickHouse's reading: a quote opens a field only at the field's start, `""` inside quotes is
 * a literal quote, and a line feed inside quotes belongs to the field. TSV and NDJSON records are lines.
 */

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const TAB = 0x09;

const EMPTY = Buffer.alloc(0);
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3;

export interface ScannedRecord {
  /** The record's bytes without its line terminator (CR LF or LF). */
  readonly bytes: Buffer;
  /** 1-based physical line the record starts on. */
  readonly line: number;
  /** Number of fields (CSV/TSV); 0 for NDJSON. */
  readonly fields: number;
}

export interface OversizedRecord {
  /** The record's first `maxRecordBytes` bytes, or its first line when a quote ran away. */
  readonly bytes: Buffer;
  readonly line: number;
  readonly reason: string;
}

export interface RecordSink {
  record(record: ScannedRecord): void;
  oversized(record: OversizedRecord): void;
}

export interface RecordScannerOptions {
  format: DataFormat;
  /** CSV only. Default `,`. */
  delimiter?: string;
  maxRecordBytes: number;
}

export class RecordScanner {
  readonly #format: DataFormat;
  readonly #delimiter: number;
  readonly #maxRecordBytes: number;
  readonly #sink: RecordSink;

  /** Bytes of the record in progress that arrived in earlier buffers. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #state = FIELD_START;
  #fields = 1;
  #line = 1;
  #recordLine = 1;
  /** After an oversized record: drop bytes up to the next line feed. */
  #discarding = false;
  /** Bytes held until the byte order mark question is settled; undefined once it is. */
  #head: Buffer | undefined = EMPTY;

  constructor(options: RecordScannerOptions, sink: RecordSink) {
    this.#format = options.format;
    this.#delimiter = (options.format === 'tsv' ? '\t' : (options.delimiter ?? ',')).charCodeAt(0);
    this.#maxRecordBytes = options.maxRecordBytes;
    this.#sink = sink;
  }

  /** The physical line the scanner has reached (1-based). */
  get line(): number {
    return this.#line;
  }

  push(input: Buffer): void {
    let buf = input;
    if (this.#head !== undefined) {
      // A UTF-8 byte order mark is an encoding marker, not data; it may arrive split over buffers.
      buf = this.#head.length === 0 ? input : Buffer.concat([this.#head, input]);
      if (buf.length < 3 && BOM.subarray(0, buf.length).equals(buf)) {
        this.#head = buf;
        return;
      }
      this.#head = undefined;
      if (buf.subarray(0, 3).equals(BOM)) buf = buf.subarray(3);
    }
    let start = 0;
    if (this.#discarding) {
      const lf = buf.indexOf(LF);
      if (lf < 0) return;
      this.#discarding = false;
      this.#line++;
      this.#recordLine = this.#line;
      start = lf + 1;
    }
    if (this.#format === 'csv') this.#scanCsv(buf, start);
    else this.#scanLines(buf, start);
  }

  /** Call once at end of input: a last record without a final line feed still counts. */
  end(): void {
    if (this.#head !== undefined && this.#head.length > 0) {
      const head = this.#head;
      this.#head = undefined;
      this.push(head);
    }
    while (!this.#discarding && this.#pendingBytes > 0) {
      if (this.#format === 'csv' && this.#state === QUOTED) {
        this.#emitRunaway(EMPTY, 0, 'unterminated quoted field at end of file');
      } else if (this.#pendingBytes > this.#maxRecordBytes) {
        this.#emitOversized(EMPTY, 0, 0);
      } else {
        this.#emit(EMPTY, 0, 0);
      }
    }
  }

  #scanLines(buf: Buffer, from: number): void {
    let start = from;
    for (;;) {
      const lf = buf.indexOf(LF, start);
      if (lf < 0) {
        this.#keep(buf, start, buf.length);
        return;
      }
      if (this.#pendingBytes + (lf - start) > this.#maxRecordBytes) {
        this.#emitOversized(buf, start, lf);
      } else {
        this.#emit(buf, start, lf);
      }
      this.#line++;
      this.#recordLine = this.#line;
      start = lf + 1;
      if (this.#discarding) {
        this.push(buf.subarray(start));
        return;
      }
    }
  }

  #scanCsv(buf: Buffer, from: number): void {
    const delimiter = this.#delimiter;
    let state = this.#state;
    let fields = this.#fields;
    let recordStart = from;
    const n = buf.length;
    for (let i = from; i < n; i++) {
      const c = buf[i];
      switch (state) {
        case QUOTED:
          if (c === QUOTE) state = QUOTE_IN_QUOTED;
          else if (c === LF) this.#line++;
          continue;
        case QUOTE_IN_QUOTED:
          if (c === QUOTE) {
            state = QUOTED;
            continue;
          }
          state = UNQUOTED;
          break;
        case FIELD_START:
          if (c === QUOTE) {
            state = QUOTED;
            continue;
          }
          state = UNQUOTED;
          break;
      }
      // UNQUOTED (or just left a quoted field): only the delimiter and the line feed matter.
      if (c === delimiter) {
        fields++;
        state = FIELD_START;
      } else if (c === LF) {
        this.#fields = fields;
        if (this.#pendingBytes + (i - recordStart) > this.#maxRecordBytes) {
          this.#emitOversized(buf, recordStart, i);
        } else {
          this.#emit(buf, recordStart, i);
        }
        this.#line++;
        this.#recordLine = this.#line;
        fields = 1;
        state = FIELD_START;
        recordStart = i + 1;
        if (this.#discarding) {
          this.#state = state;
          this.#fields = fields;
          this.push(buf.subarray(recordStart));
          return;
        }
      }
    }
    this.#state = state;
    this.#fields = fields;
    if (this.#pendingBytes + (n - recordStart) > this.#maxRecordBytes) {
      if (state === QUOTED || state === QUOTE_IN_QUOTED) {
        this.#emitRunaway(buf, recordStart, 'quoted field not closed');
      } else {
        this.#keep(buf, recordStart, n);
        this.#emitOversized(EMPTY, 0, 0);
        this.#discarding = true;
      }
      return;
    }
    this.#keep(buf, recordStart, n);
  }

  #keep(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    const room = this.#maxRecordBytes + 1 - this.#pendingBytes;
    if (room <= 0) return;
    const piece = buf.subarray(start, Math.min(end, start + room));
    this.#pending.push(piece);
    this.#pendingBytes += piece.length;
  }

  #take(buf: Buffer, start: number, end: number): Buffer {
    let bytes: Buffer;
    if (this.#pendingBytes === 0) bytes = buf.subarray(start, end);
    else {
      this.#pending.push(buf.subarray(start, end));
      bytes = Buffer.concat(this.#pending);
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    return bytes;
  }

  #emit(buf: Buffer, start: number, end: number): void {
    const bytes = this.#take(buf, start, end);
    const fields = this.#format === 'csv' ? this.#fields : this.#format === 'tsv' ? countTabs(bytes) + 1 : 0;
    this.#sink.record({ bytes, line: this.#recordLine, fields });
  }

  #emitOversized(buf: Buffer, start: number, end: number): void {
    const bytes = this.#take(buf, start, end).subarray(0, this.#maxRecordBytes);
    this.#sink.oversized({
      bytes,
      line: this.#recordLine,
      reason: `record longer than maxRecordBytes (${this.#maxRecordBytes} bytes); only its first ${bytes.length} bytes are kept here`,
    });
  }

  /**
   * A quote that never closes would swallow the rest of the file. Reject the record's first line, then
   * read on from the line after it as if the quote had not been there: memory stays bounded by
   * maxRecordBytes and every later good row still loads.
   */
  #emitRunaway(buf: Buffer, start: number, what: string): void {
    const held = this.#take(buf, start, buf.length);
    const lf = held.indexOf(LF);
    const firstLine = lf < 0 ? held : held.subarray(0, lf);
    const line = this.#recordLine;
    this.#sink.oversized({
      bytes:
        firstLine.length > 0 && firstLine[firstLine.length - 1] === CR
          ? firstLine.subarray(0, -1)
          : firstLine,
      line,
      reason: `${what} within maxRecordBytes (${this.#maxRecordBytes} bytes): unterminated quote; the line is rejected and reading resumes on the next line`,
    });
    this.#state = FIELD_START;
    this.#fields = 1;
    this.#line = line;
    this.#recordLine = line;
    if (lf < 0) {
      this.#discarding = true;
      return;
    }
    this.#line = line + 1;
    this.#recordLine = this.#line;
    const rest = held.subarray(lf + 1);
    if (rest.length > 0) this.push(rest);
  }
}

function countTabs(bytes: Buffer): number {
  let count = 0;
  for (let i = bytes.indexOf(TAB); i >= 0; i = bytes.indexOf(TAB, i + 1)) count++;
  return count;
}
