import type { DataFormat } from '../config/schema.ts';
import { eachRecord, freshBoundaryState, scanRecordEnds } from '../format/record-boundaries.ts';
import type { Chunk } from './chunk.ts';

/** Row-level facts about a chunk, for the rare paths that need them. */
export interface ChunkIndex {
  /** `offsets[i]` is where row i starts in the body; `offsets[rows]` is the end. */
  readonly offsets: Uint32Array;
  /** Physical line each row starts on. */
  readonly lines: Uint32Array;
  /** 1-based data row number of each row. */
  readonly rowNumbers: Uint32Array;
}

/** Re-finds the record boundaries of one chunk (the same scan that cut it) and lays the skips back in. */
export function indexChunk(chunk: Chunk, format: DataFormat, delimiter: string): ChunkIndex {
  const offsets = new Uint32Array(chunk.rows + 1);
  const lines = new Uint32Array(chunk.rows);
  const rowNumbers = new Uint32Array(chunk.rows);
  const state = freshBoundaryState();
  let row = 0;
  let start = chunk.prefixBytes;
  let line = chunk.firstLine;
  let rowNumber = chunk.firstRow;
  let skip = 0;
  const passSkipsUpTo = (offset: number) => {
    for (
      let next = chunk.skips[skip];
      next !== undefined && next.offset <= offset;
      next = chunk.skips[++skip]
    ) {
      line += next.lines;
      if (next.row) rowNumber++;
    }
  };
  const body = chunk.body.subarray(0, chunk.body.length);
  const visit = (end: number) => {
    if (row >= chunk.rows) return false;
    passSkipsUpTo(start);
    offsets[row] = start;
    lines[row] = line;
    rowNumbers[row] = rowNumber;
    line += 1 + state.quotedLineFeeds;
    state.quotedLineFeeds = 0;
    rowNumber++;
    row++;
    start = end + 1;
    return true;
  };
  scanRecordEnds(format, body, chunk.prefixBytes, delimiter.charCodeAt(0), state, eachRecord(body, visit));
  offsets[chunk.rows] = start;
  return { offsets, lines, rowNumbers };
}

/** The bytes of rows [from, to) of a chunk, with its prefix in front when it has one. */
export function chunkSlice(chunk: Chunk, index: ChunkIndex | undefined, from: number, to: number): Buffer[] {
  if (from === 0 && to === chunk.rows) return [chunk.body];
  if (index === undefined) throw new Error('a partial chunk slice needs the chunk index');
  const start = index.offsets[from] ?? chunk.prefixBytes;
  const end = index.offsets[to] ?? chunk.body.length;
  if (chunk.prefixBytes === 0) return [chunk.body.subarray(start, end)];
  return [chunk.body.subarray(0, chunk.prefixBytes), chunk.body.subarray(start, end)];
}

/**
 * The bytes of several row ranges of a chunk, in order, with its prefix once in front when it has one: slices,
 * not a copy (a refused 8 MiB chunk would otherwise cost another 8 MiB).
 */
export function chunkSegments(
  chunk: Chunk,
  index: ChunkIndex,
  segments: readonly [number, number][],
): Buffer[] {
  const parts = segments.map(([from, to]) =>
    chunk.body.subarray(index.offsets[from] ?? chunk.prefixBytes, index.offsets[to] ?? chunk.body.length),
  );
  if (chunk.prefixBytes > 0) parts.unshift(chunk.body.subarray(0, chunk.prefixBytes));
  return parts;
}

/** The raw text of row i, without its line feed: what a rejects line records. */
export function rowText(chunk: Chunk, index: ChunkIndex, i: number): string {
  const start = index.offsets[i] ?? 0;
  const end = (index.offsets[i + 1] ?? chunk.body.length) - 1;
  return chunk.body.toString('utf8', start, Math.max(start, end));
}
