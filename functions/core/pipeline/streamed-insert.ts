import { ChuteError, describeError } from '../errors.ts';
import { DataRejectedError } from '../ports/warehouse.ts';
import type { Chunk } from './chunk.ts';
import type { ChunkInsertTarget } from './chunk-loader.ts';
import type { Abandoned, FillingChunk } from './filling-chunk.ts';

export interface StreamOptions {
  /**
   * When (epoch ms) the body is abandoned if the chunk is still filling: well before the caller must stop, so
   * that no insert is cut off by a timeout. Undefined: never.
   */
  readonly abandonAt: number | undefined;
  /** The body is abandoned when its chunk has not grown for this long (the object stopped arriving). */
  readonly idleLimitMs: number;
  /** Bytes sent at once (but the last piece): see FillingChunk.body. */
  readonly sendAtLeast: number;
}

/**
 * A streamed insert whose body was ended with poison instead of the rest of its chunk. `committed`: whether
 * ClickHouse took part of the chunk: `no` when it refused the poisoned rows, `yes` when it answered success,
 * `unknown` when the request failed otherwise (the connection broke: 18.16 commits a body cut short).
 */
export class AbandonedInsertError extends Error {
  override readonly name = 'AbandonedInsertError';
  readonly why: Abandoned;
  readonly committed: 'yes' | 'no' | 'unknown';

  constructor(why: Abandoned, committed: 'yes' | 'no' | 'unknown', options?: { cause?: unknown }) {
    super(`streamed insert abandoned (${why.reason})`, options);
    this.why = why;
    this.committed = committed;
  }
}

/**
 * ClickHouse may have committed part of an insert that was meant to be refused: rows of one chunk may be in the
 * table with no record of them. `chunk` is the chunk's index: the file's load history marks it (see
 * PARTIAL_COMMIT_CUT), so that no retry loads the file until someone has looked.
 */
export class PartialCommitError extends ChuteError {
  readonly chunk: number;

  constructor(chunk: number, message: string, options?: { cause?: unknown }) {
    super('INSERT_CUT_SHORT', message, options);
    this.chunk = chunk;
  }
}

/**
 * Recorded as the `cut` of a chunk whose insert may have committed in part. A retry compares every recorded
 * chunk's cut with its own and refuses (CHUNKING_CHANGED) when they differ: this one never matches, so Lambda's
 * own retries cannot deduplicate the rest of that chunk away, or load its committed part twice.
 */
export const PARTIAL_COMMIT_CUT =
  'none: an insert of this chunk was ended early and may have committed part of it; check the table for this object version\'s rows, then delete this record (README, "The load history") to retry';

/**
 * Starts the insert of a chunk's rows as they reach its buffer: ClickHouse parses the chunk while the object
 * is still being read, and a chunk can be as big as two buffers were without costing more memory. The
 * token is the whole chunk's (independent of its row count, unknown until it closes), so a retry that sends
 * the closed chunk whole is deduplicated against this insert. Settles when ClickHouse answers; an abandoned
 * body always ends in AbandonedInsertError, whatever ClickHouse said.
 */
export function streamWholeChunk(
  filling: FillingChunk,
  target: ChunkInsertTarget,
  options: StreamOptions,
): Promise<void> {
  let abandoned: Abandoned | undefined;
  const token = target.token(filling.index);
  const { abandonAt } = options;
  const outOfTime =
    abandonAt === undefined
      ? undefined
      : () => {
          const waitMs = abandonAt - Date.now();
          return { waitMs, over: waitMs <= 0 };
        };
  const sent = target
    .insert({
      ...target.base,
      body: filling.body(
        target.poison,
        options.sendAtLeast,
        (why) => {
          abandoned = why;
        },
        outOfTime,
        options.idleLimitMs,
      ),
      settings:
        token === undefined ? target.settings : { ...target.settings, insert_deduplication_token: token },
    })
    .then(
      () => {
        // Set before the poison is handed to the request, so before ClickHouse can answer.
        if (abandoned !== undefined) throw new AbandonedInsertError(abandoned, 'yes');
      },
      (error: unknown) => {
        if (abandoned === undefined) throw error;
        const refused = error instanceof DataRejectedError;
        throw new AbandonedInsertError(abandoned, refused ? 'no' : 'unknown', { cause: error });
      },
    );
  sent.catch(() => undefined); // awaited by whoever loads the chunk
  return sent;
}

/**
 * The chunk once it closes. But as soon as its streamed insert fails for any reason other than the rows (the
 * body abandoned, a lost connection), that failure, without reading the rest of the chunk: a chunk given up
 * for time may be slow to finish. When the chunk cannot be read, the insert is waited for (it ends with the
 * poison), so that no query outlives the file.
 */
export async function closedOrFailed(
  filling: FillingChunk,
  sent: Promise<void> | undefined,
  where: string,
): Promise<Chunk | undefined> {
  if (sent === undefined) return filling.closed;
  const never = new Promise<never>(() => undefined);
  try {
    return await Promise.race([
      filling.closed,
      sent.then(
        () => never,
        (error: unknown) => (error instanceof DataRejectedError ? never : Promise.reject(error)),
      ),
    ]);
  } catch (error) {
    const settled = await sent.then(
      () => undefined,
      (failure: unknown) => failure,
    );
    if (settled instanceof AbandonedInsertError) throw abandonedFailure(settled, where, filling.index);
    throw error;
  }
}

/** The error a file fails with when one of its streamed inserts was abandoned. */
export function abandonedFailure(error: AbandonedInsertError, where: string, index: number): Error {
  const why = {
    time: 'out of time',
    source: 'the object could not be read',
    stalled: 'the object stopped arriving',
  }[error.why.reason];
  if (error.committed !== 'no') {
    const what =
      error.committed === 'yes'
        ? 'ClickHouse committed the part it received instead of refusing it'
        : `the request then failed (${describeError(error.cause)}), so ClickHouse may have committed the part it received (18.16 commits a body cut short)`;
    return new PartialCommitError(
      index,
      `${where}: the insert of chunk ${index} had to be ended early (${why}), and ${what}. Rows of that chunk may be in the table with no record of them: check the table for this object version's rows before loading it again`,
      { cause: error },
    );
  }
  if (error.why.reason === 'source') {
    const cause = error.why.error;
    return cause instanceof Error ? cause : new Error(describeError(cause));
  }
  if (error.why.reason === 'stalled') {
    return new ChuteError(
      'OBJECT_READ_FAILED',
      `${where}: the object stopped arriving inside chunk ${index} for half the ClickHouse request timeout; its insert was ended, nothing of it committed, and the retry resumes with it`,
    );
  }
  return new ChuteError(
    'TIMEOUT_HEADROOM',
    `${where}: stopped inside chunk ${index}, which was still being read with a third of the headroom left; nothing of it was committed, and the retry resumes with it`,
  );
}
