import type { ChunkingConfig, DataFormat } from '../config/schema.ts';
import {
  type BoundaryState,
  CR,
  freshBoundaryState,
  LF,
  scanRecordEnds,
} from '../format/record-boundaries.ts';
import type { RejectedRow } from '../ports/object-store.ts';
import type { BufferPool } from './buffer-pool.ts';
import type { Chunk, Skip } from './chunk.ts';

export interface AssemblerOptions {
  readonly format: DataFormat;
  readonly delimiter: string;
  readonly chunking: ChunkingConfig;
  /** The first record is a header: it goes to `onHeader`, not into a chunk. */
  readonly header: boolean;
  /** Receives the header record; returns the bytes to put in front of every chunk, if any. */
  readonly onHeader?: ((record: Buffer, line: number) => Buffer | undefined) | undefined;
  /** Where chunk buffers come from; the consumer releases each chunk's body once inserted. */
  readonly pool: BufferPool;
}

/**
 * Decompressed bytes in, chunks out. Records are copied into the chunk buffer in runs (as many whole records
 * as lie together in an input buffer, one copy each run), so the cost per row is one `indexOf` and a few
 * counters. A chunk closes at the first record boundary past `maxBytes`, or at `maxRows`: a rule of the bytes
 * alone, so the same object always yields the same chunks.
 */
export class ChunkAssembler {
  readonly #options: AssemblerOptions;
  readonly #delimiter: number;
  readonly #state: BoundaryState = freshBoundaryState();
  readonly #ready: Chunk[] = [];
  /** Bytes of the record in progress that arrived in earlier buffers (at most maxRecordBytes + 1). */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** quotedLineFeeds at the last record end: the difference is the current record's. */
  #quotedMark = 0;
  /** After an overlong line: drop bytes up to the next line feed. */
  #discarding = false;
  #headerDone: boolean;
  #head: Buffer | undefined = Buffer.alloc(0);
  #bytesIn = 0;
  #line = 1;
  #rowsSeen = 0;
  #blankLines = 0;
  /** The chunk being filled. */
  #index = 0;
  #body: Buffer | undefined;
  #prefix: Buffer | undefined;
  #used = 0;
  #rows = 0;
  #firstRow = 1;
  #firstLine = 1;
  #skips: Skip[] = [];
  #rejected: RejectedRow[] = [];
  /** Bytes of the rejected records' text the open chunk holds. */
  #rejectedBytes = 0;
  /** The run of whole records in the current input buffer not yet copied: [runStart, runEnd). */
  #runStart = 0;
  #runEnd = 0;
  /** Input after the record that closed a chunk, scanned when the next chunk is asked for. */
  #leftover: Buffer | undefined;
  /** A chunk closed during the current scan. */
  #closed = false;
  /** The current scan handed the rest of its buffer to #overlong, which left it in `#rescan`. */
  #handedOff = false;
  /** Bytes to read again, as at a record start, after an overlong record's first line (see #overlong). */
  #rescan: Buffer | undefined;
  /** The last record ended in an overlong rejection of its first line: the next overlong one goes whole. */
  #afterOverlong = false;
  /** The object has ended and its last chunk closed. */
  #finished = false;

  constructor(options: AssemblerOptions) {
    this.#options = options;
    this.#delimiter = options.delimiter.charCodeAt(0);
    this.#headerDone = !options.header;
  }

  /** Data rows seen so far (in chunks, rejected, or pending), and blank lines skipped. */
  get rowsSeen(): number {
    return this.#rowsSeen;
  }

  get blankLines(): number {
    return this.#blankLines;
  }

  get bytesIn(): number {
    return this.#bytesIn;
  }

  /**
   * The chunk being filled, if one is open: bytes [0, used) of `body` are final (records are copied whole,
   * and nothing below `used` is written again), so they may be sent before the chunk closes.
   */
  get openChunk():
    | {
        readonly index: number;
        readonly body: Buffer;
        readonly used: number;
        readonly rows: number;
        readonly prefixBytes: number;
      }
    | undefined {
    if (this.#body === undefined) return undefined;
    return {
      index: this.#index,
      body: this.#body,
      used: this.#used,
      rows: this.#rows,
      prefixBytes: this.#prefixLength(),
    };
  }

  /** The open chunk as it stands: its rows so far, as a chunk of their own (for planning from its first rows). */
  snapshot(): Chunk | undefined {
    if (this.#body === undefined) return undefined;
    return {
      index: this.#index,
      body: this.#body.subarray(0, this.#used),
      prefixBytes: this.#prefixLength(),
      rows: this.#rows,
      firstRow: this.#firstRow,
      firstLine: this.#firstLine,
      skips: [...this.#skips],
      rejected: [...this.#rejected],
      bytesThrough: this.#bytesIn,
    };
  }

  /** Takes the next piece of the object; returns the chunks it completed. */
  push(input: Buffer): Chunk[] {
    // Input left over from the last chunk comes first (a caller that did not `resume` still keeps the order).
    const out: Chunk[] = [];
    while (this.#leftover !== undefined) out.push(...this.resume());
    this.#bytesIn += input.length;
    const buf = this.#stripByteOrderMark(input);
    if (buf !== undefined && buf.length > 0) this.#scan(buf);
    return [...out, ...this.#ready.splice(0)];
  }

  /**
   * Scanning stops where a chunk closes, so that no chunk buffer is taken before the consumer asks for the
   * next chunk, and the reader takes the next buffer only when the pool has one to give (see ChunkReader).
   */
  get hasLeftover(): boolean {
    return this.#leftover !== undefined;
  }

  /** Goes on with the rest of the last input, up to the next chunk. */
  resume(): Chunk[] {
    const leftover = this.#leftover;
    this.#leftover = undefined;
    if (leftover !== undefined) this.#scan(leftover);
    return this.#ready.splice(0);
  }

  /** The end of the object, all at once: every chunk still to come (see `endStep`). */
  end(): Chunk[] {
    const out: Chunk[] = [];
    while (!this.#finished) out.push(...this.endStep());
    return out;
  }

  /** Whether the object has ended and its last chunk closed. */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * The end of the object, a step at a time: like `push`, one call opens at most one chunk buffer, so the
   * caller can wait for the pool between calls; call again until `finished`. A last record without a line feed
   * still counts; a quote still open at the end has its first line rejected and the rest read again.
   */
  endStep(): Chunk[] {
    if (this.#leftover !== undefined) return this.resume();
    if (this.#head !== undefined && this.#head.length > 0) {
      const head = this.#head;
      this.#head = undefined;
      this.#scan(head);
      return this.#ready.splice(0);
    }
    if (!this.#discarding && this.#pendingBytes > 0) {
      if (this.#options.format === 'csv' && this.#state.inQuotes && !this.#state.quoteAtEdge) {
        if (!this.#headerDone) this.#headerUnreadable('it opens a quote that is never closed');
        this.#closed = false;
        this.#afterOverlong = false;
        this.#overlong(
          this.#takePending(),
          'unterminated quoted field at the end of the file: its first line is rejected and reading resumes on the next line',
        );
        const rest = this.#takeRescan();
        if (rest !== undefined) this.#scan(rest);
        return this.#ready.splice(0);
      }
      // A final record without its line feed: give it one and take it as any other.
      const record = this.#takePending();
      this.#record(Buffer.concat([record, NEWLINE]), 0, record.length, true);
    }
    this.#closeChunk(true);
    this.#finished = true;
    return this.#ready.splice(0);
  }

  #stripByteOrderMark(input: Buffer): Buffer | undefined {
    if (this.#head === undefined) return input;
    // A UTF-8 byte order mark is an encoding marker, not data; it may arrive split over buffers.
    const buf = this.#head.length === 0 ? input : Buffer.concat([this.#head, input]);
    if (buf.length < 3 && BOM.subarray(0, buf.length).equals(buf)) {
      this.#head = buf;
      return undefined;
    }
    this.#head = undefined;
    return buf.subarray(0, 3).equals(BOM) ? buf.subarray(3) : buf;
  }

  /** Scans `input`, and again whatever an overlong record hands back to be read afresh (see #overlong). */
  #scan(input: Buffer): void {
    for (let buf: Buffer | undefined = input; buf !== undefined; ) buf = this.#scanOnce(buf);
  }

  #scanOnce(buf: Buffer): Buffer | undefined {
    this.#closed = false;
    let from = 0;
    if (this.#discarding) {
      const lf = buf.indexOf(LF);
      if (lf < 0) return undefined;
      this.#discarding = false;
      this.#line++;
      from = lf + 1;
      // The skipped line's end is a record start: a quote there, or after blanks there, opens a field.
      this.#state.atFieldStart = true;
    }
    this.#runStart = from;
    this.#runEnd = from;
    let recordStart = from;
    const quotedSinceLastRecord = () => {
      const quoted = this.#state.quotedLineFeeds - this.#quotedMark;
      this.#quotedMark = this.#state.quotedLineFeeds;
      return quoted;
    };
    scanRecordEnds(this.#options.format, buf, from, this.#delimiter, this.#state, (end, limit) => {
      recordStart = this.#plainRun(buf, recordStart, end, limit, quotedSinceLastRecord());
      return this.#closed || this.#handedOff ? -recordStart : recordStart;
    });
    if (this.#handedOff) {
      // An overlong record took the rest of this buffer, to be read again from its next line (see #overlong).
      this.#handedOff = false;
      return this.#takeRescan();
    }
    this.#flushRun(buf);
    if (this.#closed) {
      if (recordStart < buf.length) this.#leftover = buf.subarray(recordStart);
      return undefined;
    }
    if (recordStart < buf.length) this.#keep(buf, recordStart);
    return this.#takeRescan();
  }

  #takeRescan(): Buffer | undefined {
    const rest = this.#rescan;
    this.#rescan = undefined;
    return rest;
  }

  /** One record: bytes [start, end) of `buf` (after any pending bytes), its line feed at `end`. */
  #record(buf: Buffer, start: number, end: number, last: boolean, quotedLineFeeds = 0): void {
    const lines = 1 + quotedLineFeeds;
    const length = this.#pendingBytes + (end - start);
    const pending = this.#pendingBytes > 0;
    if (!this.#headerDone) {
      // Repeated in front of every chunk, a longer header would overrun the chunk buffer.
      if (length > this.#options.chunking.maxRecordBytes) this.#headerTooLong();
      this.#afterOverlong = false;
      this.#flushRun(buf);
      const record = pending
        ? Buffer.concat([this.#takePending(), buf.subarray(start, end)])
        : buf.subarray(start, end);
      if (isBlank(record)) {
        this.#blankLines++;
        this.#line += lines;
        this.#runStart = end + 1;
        this.#runEnd = end + 1;
        return;
      }
      this.#prefix = this.#options.onHeader?.(Buffer.from(stripCr(record)), this.#line);
      this.#headerDone = true;
      this.#line += lines;
      this.#runStart = end + 1;
      this.#runEnd = end + 1;
      return;
    }
    this.#ensureBody();
    if (length > this.#options.chunking.maxRecordBytes) {
      this.#flushRun(buf);
      this.#overlong(this.#heldFrom(buf, start));
      this.#handedOff = true;
      return;
    }
    this.#afterOverlong = false;
    // The record's last byte may have come in an earlier buffer: a CRLF split between two reads is still one.
    const lastByte = end > start ? buf[end - 1] : this.#lastPendingByte();
    const blank = length === 0 || (length === 1 && lastByte === CR);
    const tsvCr = this.#options.format === 'tsv' && length > 0 && lastByte === CR;
    if (blank || pending || tsvCr || last) {
      // Not part of a plain run: copy what came before, then this record on its own.
      this.#flushRun(buf);
      if (blank) {
        if (pending) this.#takePending(); // a lone carriage return
        this.#blankLines++;
        this.#skips.push({ offset: this.#used, lines, row: false });
        this.#line += lines;
      } else {
        if (pending) this.#copyPending();
        const contentEnd = tsvCr && end > start ? end - 1 : end;
        this.#used += buf.copy(this.#body as Buffer, this.#used, start, contentEnd);
        if (tsvCr && end === start) this.#used--; // the carriage return was the last pending byte
        (this.#body as Buffer)[this.#used++] = LF;
        this.#countRow(lines);
      }
      this.#runStart = end + 1;
      this.#runEnd = end + 1;
    } else {
      this.#runEnd = end + 1;
      this.#countRow(lines);
    }
    this.#closeIfFull(buf);
  }

  /** Closes the open chunk when it is full; says whether it did. */
  #closeIfFull(buf: Buffer): boolean {
    if (!this.#full()) return false;
    this.#flushRun(buf);
    this.#closeChunk(false);
    return true;
  }

  /**
   * A chunk is full at maxBytes of records, or at maxRows records. What it holds of the records it skips
   * counts too, so that neither piles up in memory: the text of each rejected record (in its bytes), and the
   * blank lines and rejected records themselves (among the records).
   */
  #full(): boolean {
    const { maxBytes, maxRows } = this.#options.chunking;
    const bytes = this.#used + (this.#runEnd - this.#runStart) - this.#prefixLength() + this.#rejectedBytes;
    return bytes >= maxBytes || this.#rows + this.#skips.length >= maxRows;
  }

  /**
   * The records of a plain run (record-boundaries.ts): the one from `start` to `end`, then one per line feed
   * before `limit`, up to a full chunk. Records that are plain text of a usual length are taken in stretches:
   * where the chunk will be full (a byte position, a row count) is worked out once per stretch, so each such
   * record costs one `indexOf` and two comparisons, and the counts are settled when the stretch ends. Any other
   * record goes through `#record`. Returns the index after the last record taken.
   */
  #plainRun(buf: Buffer, start: number, end: number, limit: number, quotedLineFeeds: number): number {
    const { maxRecordBytes, maxBytes, maxRows } = this.#options.chunking;
    const tsv = this.#options.format === 'tsv';
    let recordStart = start;
    let lf = end;
    let lines = 1 + quotedLineFeeds;
    for (;;) {
      if (
        !this.#headerDone ||
        this.#pendingBytes > 0 ||
        lf - recordStart <= 1 || // blank, or maybe a lone carriage return: #record tells
        lf - recordStart > maxRecordBytes ||
        (tsv && buf[lf - 1] === CR)
      ) {
        this.#record(buf, recordStart, lf, false, lines - 1);
        if (this.#closed || this.#handedOff) return lf + 1;
        recordStart = lf + 1;
        lines = 1;
        lf = buf.indexOf(LF, recordStart);
        if (lf < 0 || lf >= limit) return recordStart;
        continue;
      }
      if (this.#body === undefined) this.#ensureBody();
      this.#afterOverlong = false;
      // What #full() would say after each record, solved for the record's end: the chunk is full once the
      // run reaches `fullAt`, or once `rowRoom` more records are in it.
      const fullAt = maxBytes - this.#used + this.#prefixLength() - this.#rejectedBytes + this.#runStart;
      const rowRoom = maxRows - this.#rows - this.#skips.length;
      let taken = 0;
      for (;;) {
        taken++;
        if (lf + 1 >= fullAt || taken >= rowRoom) {
          this.#settle(lf + 1, taken, lines - 1);
          this.#flushRun(buf);
          this.#closeChunk(false);
          return lf + 1;
        }
        recordStart = lf + 1;
        lf = buf.indexOf(LF, recordStart);
        if (lf < 0 || lf >= limit) {
          this.#settle(recordStart, taken, lines - 1);
          return recordStart;
        }
        if (lf - recordStart <= 1 || lf - recordStart > maxRecordBytes || (tsv && buf[lf - 1] === CR)) break;
      }
      this.#settle(recordStart, taken, lines - 1);
      lines = 1;
    }
  }

  /** Counts a stretch of `rows` usual records ending at `runEnd`, `extraLines` line feeds quoted in them. */
  #settle(runEnd: number, rows: number, extraLines: number): void {
    this.#runEnd = runEnd;
    this.#rows += rows;
    this.#rowsSeen += rows;
    this.#line += rows + extraLines;
  }

  #countRow(lines: number): void {
    this.#rows++;
    this.#rowsSeen++;
    this.#line += lines;
  }

  #flushRun(buf: Buffer): void {
    if (this.#runEnd > this.#runStart) {
      this.#ensureBody();
      this.#used += buf.copy(this.#body as Buffer, this.#used, this.#runStart, this.#runEnd);
    }
    this.#runStart = this.#runEnd;
  }

  #ensureBody(): void {
    if (this.#body !== undefined) return;
    this.#body = this.#options.pool.acquire();
    this.#used = 0;
    if (this.#prefix !== undefined) {
      this.#used += this.#prefix.copy(this.#body, 0);
      this.#body[this.#used++] = LF;
    }
    this.#firstRow = this.#rowsSeen + 1;
    this.#firstLine = this.#line;
  }

  #prefixLength(): number {
    return this.#prefix === undefined ? 0 : this.#prefix.length + 1;
  }

  #closeChunk(final: boolean): void {
    if (this.#body === undefined) return;
    if (this.#rows === 0 && this.#rejected.length === 0 && final) {
      this.#options.pool.release(this.#body);
      this.#body = undefined;
      return;
    }
    this.#ready.push({
      index: this.#index++,
      body: this.#body.subarray(0, this.#used),
      prefixBytes: this.#prefixLength(),
      rows: this.#rows,
      firstRow: this.#firstRow,
      firstLine: this.#firstLine,
      skips: this.#skips,
      rejected: this.#rejected,
      bytesThrough: this.#bytesIn,
    });
    this.#body = undefined;
    this.#rows = 0;
    this.#skips = [];
    this.#rejected = [];
    this.#rejectedBytes = 0;
    this.#closed = true;
  }

  #reject(bytes: Buffer, lines: number, reason: string): void {
    this.#ensureBody();
    this.#rowsSeen++;
    this.#rejected.push({
      line: this.#line,
      row: this.#rowsSeen,
      reason,
      raw: stripCr(bytes).toString('utf8'),
    });
    this.#skips.push({ offset: this.#used, lines, row: true });
    this.#rejectedBytes += bytes.length;
    this.#line += lines;
  }

  /** Holds the start of an unfinished record, never more than maxRecordBytes of it. */
  #keep(buf: Buffer, start: number): void {
    const max = this.#options.chunking.maxRecordBytes;
    if (this.#pendingBytes + (buf.length - start) <= max) {
      this.#pending.push(Buffer.from(buf.subarray(start)));
      this.#pendingBytes += buf.length - start;
      return;
    }
    if (!this.#headerDone) this.#headerTooLong();
    this.#overlong(this.#heldFrom(buf, start));
  }

  /** The pending bytes of the record in progress and the rest of `buf` from `start`, as one buffer. */
  #heldFrom(buf: Buffer, start: number): Buffer {
    const rest = buf.subarray(start);
    return this.#pendingBytes > 0 ? Buffer.concat([this.#takePending(), rest]) : rest;
  }

  #headerTooLong(): never {
    this.#headerUnreadable(
      `it is longer than maxRecordBytes (${this.#options.chunking.maxRecordBytes} bytes)`,
    );
  }

  #headerUnreadable(why: string): never {
    throw new HeaderUnreadableError(why, this.#line);
  }

  /**
   * A record longer than maxRecordBytes, `held` from its first byte on (with whatever of the current buffer
   * follows it). The rule looks at the bytes alone, whichever buffer the record's end or its limit falls in, so
   * the same object is always cut the same way; and memory stays bounded whatever the record.
   *
   * Its first line is rejected (at most maxRecordBytes of it kept), and reading resumes on the next line as at a
   * record start: as if a quote still open there had not been there, for such a record is most often a quote
   * that is never closed, which would otherwise swallow the rest of the file; every later good row still loads.
   * When the record read from that next line is over the limit too (every line feed escaped or quoted, say),
   * reading the same bytes again line by line would cost time in the square of their length: that record is
   * rejected whole instead, its first maxRecordBytes kept, and reading resumes after the first line feed past
   * them.
   *
   * What is to be read again goes to `#rescan` (or, after a chunk closed, `#leftover`): the caller's scan loop
   * takes it, so that no recursion grows with the number of such records.
   */
  #overlong(held: Buffer, why = overlong(this.#options)): void {
    const max = this.#options.chunking.maxRecordBytes;
    const wholeRecord = this.#afterOverlong;
    const lf = wholeRecord ? held.indexOf(LF, max) : held.indexOf(LF);
    const rejected = lf < 0 ? held : held.subarray(0, lf);
    this.#ensureBody();
    this.#reject(rejected.subarray(0, max), 1 + (wholeRecord ? countLineFeeds(rejected) : 0), why);
    Object.assign(this.#state, freshBoundaryState());
    this.#quotedMark = 0;
    this.#afterOverlong = !wholeRecord;
    if (this.#full()) this.#closeChunk(false);
    if (lf < 0) {
      this.#line--; // counted again when its line feed is found
      this.#discarding = true;
      return;
    }
    const rest = held.subarray(lf + 1);
    if (rest.length === 0) return;
    // After a chunk closed, the rest waits until the consumer asks for the next chunk (see #scanOnce).
    if (this.#closed) this.#leftover = rest;
    else this.#rescan = rest;
  }

  #copyPending(): void {
    const body = this.#body as Buffer;
    for (const piece of this.#pending) this.#used += piece.copy(body, this.#used);
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  #lastPendingByte(): number | undefined {
    const last = this.#pending[this.#pending.length - 1];
    return last?.[last.length - 1];
  }

  #takePending(): Buffer {
    const bytes = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
    return bytes;
  }
}

/** The header cannot be read (longer than maxRecordBytes, or a quote in it never closes): nothing can load. */
export class HeaderUnreadableError extends Error {
  /** The header's first line in the file. */
  readonly line: number;

  constructor(why: string, line: number) {
    super(why);
    this.line = line;
  }
}

const NEWLINE = Buffer.from('\n');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function overlong(options: AssemblerOptions): string {
  const max = options.chunking.maxRecordBytes;
  return `record longer than maxRecordBytes (${max} bytes), or a quote never closed: its first line is rejected (at most ${max} bytes of it kept here) and reading resumes on the next line`;
}

function countLineFeeds(bytes: Buffer): number {
  let count = 0;
  for (let at = bytes.indexOf(LF); at >= 0; at = bytes.indexOf(LF, at + 1)) count++;
  return count;
}

function stripCr(bytes: Buffer): Buffer {
  return bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.subarray(0, bytes.length - 1) : bytes;
}

function isBlank(bytes: Buffer): boolean {
  return bytes.length === 0 || (bytes.length === 1 && bytes[0] === CR);
}
