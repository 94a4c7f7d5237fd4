import { ChuteError } from '../errors.ts';
import type { RejectedRow } from '../ports/object-store.ts';
import { DataRejectedError, type RawInsert } from '../ports/warehouse.ts';
import type { Chunk } from './chunk.ts';
import { type ChunkIndex, chunkSegments, chunkSlice, rowText } from './chunk-index.ts';
import type { RowScreen } from './row-screen.ts';
import { PartialCommitError } from './streamed-insert.ts';

export interface ChunkInsertTarget {
  /** Everything of the insert but the body and the per-insert token. */
  readonly base: Omit<RawInsert, 'body' | 'settings'>;
  readonly settings: Readonly<Record<string, string | number>>;
  /**
   * Deduplication token for chunk `index` whole, or for its rows [from, to) when a range is given; undefined
   * when the server has no tokens. The whole chunk's token does not depend on its row count: its insert goes
   * out (streamed) before the chunk is whole.
   */
  token(index: number, range?: readonly [from: number, to: number]): string | undefined;
  insert(insert: RawInsert): Promise<void>;
  /** Bytes that make ClickHouse refuse an insert, to end one that cannot be finished (see FillingChunk). */
  readonly poison: Buffer;
  /** What is wrong with a row's shape, if anything (a wrong field count), to put before ClickHouse's reason. */
  explain?: ((raw: string) => string | undefined) | undefined;
  /** Rows ClickHouse is certain to refuse, found in one pass over a refused chunk. */
  screen?: RowScreen | undefined;
}

export interface ChunkOutcome {
  readonly inserted: number;
  /** Rows ClickHouse refused, in file order. */
  readonly rejected: readonly RejectedRow[];
  /** Inserts sent, failed ones included: a measure of how much isolation cost. */
  readonly inserts: number;
}

/** A chunk screened before its first insert: its index, and the rows the screen found certain to fail. */
export interface ScreenedChunk {
  readonly index: ChunkIndex;
  readonly certain: ReadonlyMap<number, string>;
}

export interface LoadChunkOptions {
  /**
   * Screened ahead (while the previous chunk was inserting), because this file has had bad rows: the rows
   * certain to fail are taken out before the first insert instead of after ClickHouse refuses the chunk. For a
   * chunk whose whole insert already went out streamed (it was in flight when an earlier chunk was refused),
   * the same screening serves its first refusal instead of a second pass.
   */
  readonly screened?: ScreenedChunk | undefined;
  /** Called once, when ClickHouse first refuses any of this chunk's rows. */
  readonly onRefused?: (() => void) | undefined;
  /**
   * The insert of the whole chunk, already sent (streamed while the chunk filled): taken as the first insert,
   * so that a refusal goes on to isolation as if this call had sent it.
   */
  readonly sentWhole?: Promise<void> | undefined;
  /**
   * Called before each insert that isolates bad rows, with the rows of this chunk rejected so far: throws to
   * stop (the file is out of time, or over its reject limit). A chunk whose rows are all subtly bad costs two
   * inserts a row, which nothing else would stop before the function's own timeout.
   */
  readonly beforeIsolating?: ((rejectedSoFar: number) => void) | undefined;
}

/**
 * Loads one chunk. The fast path is a single insert of the whole chunk. When ClickHouse refuses the data, the
 * chunk is split where ClickHouse says the bad row is (or halved when it does not say), and every part is
 * retried: good parts land, and a single row that still fails is rejected with ClickHouse's own reason.
 * An insert that fails commits nothing (a chunk is one block), so no part is ever inserted twice.
 * `policy: 'fail'` stops at the first bad row instead.
 */
export async function loadChunk(
  chunk: Chunk,
  target: ChunkInsertTarget,
  policy: 'reject' | 'fail',
  where: string,
  indexOf: (chunk: Chunk) => ChunkIndex,
  options: LoadChunkOptions = {},
): Promise<ChunkOutcome> {
  const rows = chunk.rows;
  // A chunk whose whole insert went out streamed was not screened first.
  const screenedFirst = options.sentWhole === undefined ? options.screened : undefined;
  // Where each row starts is only worked out once a row needs to be told apart from the others.
  let index: ChunkIndex | undefined = options.screened?.index;
  const indexed = (): ChunkIndex => {
    index ??= indexOf(chunk);
    return index;
  };
  const rejected: RejectedRow[] = [];
  let inserted = 0;
  let inserts = 0;
  // Ranges still to load, last one first: a stack keeps file order and needs no recursion.
  const pending: [number, number][] = [];
  let refused = false;
  /**
   * A CSV or TSV insert names its columns: one the table lacks was dropped or renamed since the table was
   * described, and every row would be refused for it, so the file fails instead. (In JSON the same code is a
   * row's unknown key: bad data.)
   */
  const failIfTableChanged = (error: DataRejectedError) => {
    if (error.code !== NO_SUCH_COLUMN || target.base.format === 'JSONEachRow') return;
    throw new ChuteError(
      'SCHEMA_MISMATCH',
      `${where}: ClickHouse has no column this insert names (${error.message}): the table changed since chute described it. The file fails, and its retry describes the table again`,
      { cause: error },
    );
  };
  const noteRefusal = () => {
    if (refused) return;
    refused = true;
    options.onRefused?.();
  };
  /**
   * Stops isolating when told to. Rows of the chunk already inserted stay: with deduplication tokens the retry
   * isolates the same way and its inserts of them are dropped; without, they would load twice, so the chunk is
   * marked as committed in part (PartialCommitError) and no retry runs until someone has looked.
   */
  const mayGoOn = () => {
    try {
      options.beforeIsolating?.(rejected.length);
    } catch (error) {
      if (inserted === 0 || target.token(chunk.index) !== undefined) throw error;
      throw new PartialCommitError(
        chunk.index,
        `${where}: ${error instanceof Error ? error.message : String(error)}; ${inserted} rows of chunk ${chunk.index} (from line ${chunk.firstLine}) were already inserted while its bad rows were isolated, with no record of them: check the table for this object version's rows before loading it again`,
        { cause: error },
      );
    }
  };

  /**
   * Rejects the rows certain to fail and sends the rest of [from, to) as one insert. When that insert is
   * refused too, something subtler is wrong: the remaining segments go on the stack, for ClickHouse to name
   * each bad row.
   */
  const sendWithout = async (from: number, to: number, certain: ReadonlyMap<number, string>) => {
    for (const [row, reason] of certain) {
      rejected.push({
        line: indexed().lines[row] ?? 0,
        row: indexed().rowNumbers[row] ?? 0,
        reason,
        raw: rowText(chunk, indexed(), row),
      });
    }
    const segments = segmentsWithout(from, to, certain);
    const kept = segments.reduce((sum, [a, b]) => sum + b - a, 0);
    if (kept === 0) return;
    mayGoOn();
    inserts++;
    try {
      const token = target.token(chunk.index, [from, to]);
      await target.insert({
        ...target.base,
        body: chunkSegments(chunk, indexed(), segments),
        settings:
          token === undefined
            ? target.settings
            : {
                ...target.settings,
                insert_deduplication_token: `${token}:without:${[...certain.keys()].join(',')}`,
              },
      });
      inserted += kept;
    } catch (retryError) {
      if (!(retryError instanceof DataRejectedError)) throw retryError;
      failIfTableChanged(retryError);
      noteRefusal();
      for (let i = segments.length - 1; i >= 0; i--) pending.push(segments[i] as [number, number]);
    }
  };

  // A screened chunk has had its one screening; an unscreened one gets it at its first refusal.
  let screened = screenedFirst !== undefined;
  if (rows > 0) {
    if (screenedFirst !== undefined && screenedFirst.certain.size > 0 && policy === 'reject') {
      await sendWithout(0, rows, screenedFirst.certain);
    } else {
      pending.push([0, rows]);
    }
  }
  while (pending.length > 0) {
    const range = pending.pop();
    if (range === undefined) break;
    const [from, to] = range;
    if (refused) mayGoOn();
    inserts++;
    try {
      const whole = from === 0 && to === rows;
      if (whole && options.sentWhole !== undefined) await options.sentWhole;
      else {
        const token = target.token(chunk.index, whole ? undefined : [from, to]);
        await target.insert({
          ...target.base,
          body: chunkSlice(chunk, whole ? undefined : indexed(), from, to),
          settings:
            token === undefined ? target.settings : { ...target.settings, insert_deduplication_token: token },
        });
      }
      inserted += to - from;
    } catch (error) {
      if (!(error instanceof DataRejectedError)) throw error;
      failIfTableChanged(error);
      noteRefusal();
      if (!screened && policy === 'reject' && target.screen !== undefined) {
        // The first refusal: take out in one pass every row certain to fail, then try the rest as one insert.
        screened = true;
        const certain = options.screened?.certain ?? target.screen(chunk, indexed());
        if (certain.size > 0) {
          await sendWithout(from, to, certain);
          continue;
        }
      }
      const named = error.rowHint === undefined ? undefined : from + error.rowHint - 1;
      const hinted = named !== undefined && named >= from && named < to ? named : undefined;
      if (policy === 'fail') {
        const at = hinted ?? from;
        throw new ChuteError(
          'REJECT_LIMIT_EXCEEDED',
          `${where}, line ${indexed().lines[at]}${hinted === undefined ? ` or after it` : ''}: ${error.message} (badRows.policy is "fail")`,
          { cause: error },
        );
      }
      if (to - from === 1) {
        const raw = rowText(chunk, indexed(), from);
        const shape = target.explain?.(raw);
        rejected.push({
          line: indexed().lines[from] ?? 0,
          row: indexed().rowNumbers[from] ?? 0,
          reason: `${shape === undefined ? '' : `${shape}; `}ClickHouse code ${error.code}: ${error.message}`,
          raw,
        });
        continue;
      }
      if (hinted !== undefined) {
        // Rows before the named one parsed; the named one is suspect; the rest is unknown.
        if (hinted + 1 < to) pending.push([hinted + 1, to]);
        pending.push([hinted, hinted + 1]);
        if (hinted > from) pending.push([from, hinted]);
      } else {
        const middle = from + Math.floor((to - from) / 2);
        pending.push([middle, to], [from, middle]);
      }
    }
  }
  rejected.sort((a, b) => a.row - b.row);
  return { inserted, rejected, inserts };
}

/** ClickHouse's NO_SUCH_COLUMN_IN_TABLE. */
const NO_SUCH_COLUMN = '16';

/** Rows [from, to) without the given ones, as contiguous ranges. */
function segmentsWithout(from: number, to: number, without: ReadonlyMap<number, string>): [number, number][] {
  const segments: [number, number][] = [];
  let start = from;
  // The few rows taken out, in order: a chunk has a hundred thousand rows and usually a handful of these.
  for (const row of [...without.keys()].sort((a, b) => a - b)) {
    if (row < from || row >= to) continue;
    if (row > start) segments.push([start, row]);
    start = row + 1;
  }
  if (to > start) segments.push([start, to]);
  return segments;
}
