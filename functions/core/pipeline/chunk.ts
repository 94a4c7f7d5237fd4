import type { RejectedRow } from '../ports/object-store.ts';

/** Something taken out of the byte stream before a chunk was cut: a blank line or a rejected record. */
export interface Skip {
  /** Where in `body` it would have been. */
  readonly offset: number;
  /** Physical lines it spanned. */
  readonly lines: number;
  /** Whether it was a data row (a rejected record is; a blank line is not). */
  readonly row: boolean;
}

/**
 * The unit of insertion: whole records, cut at the same boundaries every time the same object version is
 * read, so that a retry sends the same inserts, with the same deduplication tokens, again. The hot path keeps
 * only counts; where each row starts and which line it is on are worked out (`indexChunk`) when a chunk
 * needs row-level work: isolating a bad row, naming its line.
 */
export interface Chunk {
  /** 0-based position in the object. */
  readonly index: number;
  /** `prefix` (a header line, for *WithNames formats) followed by the records, each ending in a line feed. */
  readonly body: Buffer;
  /** Bytes at the start of `body` that precede the first record. */
  readonly prefixBytes: number;
  readonly rows: number;
  /** 1-based data row number of the first row in `body` (rows skipped before it included). */
  readonly firstRow: number;
  /** 1-based physical line of the first record, skipped lines included. */
  readonly firstLine: number;
  readonly skips: readonly Skip[];
  /** Rows refused before ClickHouse saw them (oversized records, runaway quotes), in file order. */
  readonly rejected: readonly RejectedRow[];
  /** Decompressed bytes of the object consumed when this chunk was cut. */
  readonly bytesThrough: number;
  /** Known to be the object's last chunk when it was cut (its commit is recorded by the file's own record). */
  readonly final?: boolean;
}
