import type { RejectedRow } from '../ports/object-store.ts';

/**
 * The unit of insertion: whole records, cut at the same record boundaries every time the same object
 * version is read, so a retry sends the same inserts (and the same deduplication tokens) again.
 */
export interface Chunk {
  /** 0-based position in the object. */
  readonly index: number;
  /** `prefix` (a header line, for *WithNames formats) followed by the records, each ending in a line feed. */
  readonly body: Buffer;
  /** Bytes at the start of `body` that precede the first record. */
  readonly prefixBytes: number;
  /** `offsets[i]` is where row i starts in `body`; `offsets[rows]` is the end. */
  readonly offsets: Uint32Array;
  /** Physical line each row starts on. */
  readonly lines: Uint32Array;
  /** 1-based data row number of each row. */
  readonly rowNumbers: Uint32Array;
  /** Rows refused before ClickHouse saw them (wrong field count, oversized), in file order. */
  readonly rejected: readonly RejectedRow[];
  /** Decompressed bytes of the object consumed up to the end of this chunk. */
  readonly bytesThrough: number;
}

export function chunkRows(chunk: Chunk): number {
  return chunk.offsets.length - 1;
}

/** The bytes of rows [from, to) of a chunk, with its prefix in front when it has one. */
export function chunkSlice(chunk: Chunk, from: number, to: number): Buffer {
  const start = chunk.offsets[from] ?? 0;
  const end = chunk.offsets[to] ?? chunk.body.length;
  if (chunk.prefixBytes === 0) return chunk.body.subarray(start, end);
  if (start === chunk.prefixBytes && end === chunk.body.length) return chunk.body;
  return Buffer.concat([chunk.body.subarray(0, chunk.prefixBytes), chunk.body.subarray(start, end)]);
}

/** The raw text of row i, without its line feed: what a rejects line records. */
export function rowText(chunk: Chunk, i: number): string {
  const start = chunk.offsets[i] ?? 0;
  const end = (chunk.offsets[i + 1] ?? chunk.body.length) - 1;
  return chunk.body.toString('utf8', start, Math.max(start, end));
}
