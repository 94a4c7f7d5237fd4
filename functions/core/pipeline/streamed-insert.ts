import { ChuteError, describeError } from '../errors.ts';
import type { ChunkInsertTarget } from './chunk-loader.ts';
import type { Abandoned, FillingChunk } from './filling-chunk.ts';

/** A chunk's whole insert, sent while the chunk fills. */
export interface StreamedInsert {
  /** Settles when ClickHouse answers, after the chunk closed (or the body was abandoned). */
  readonly sent: Promise<void>;
  /** Why the body was ended with poison instead of the rest of the chunk, if it was. */
  abandoned(): Abandoned | undefined;
}

export interface StreamOptions {
  /**
   * When (epoch ms) the body is abandoned if the chunk is still filling: well before the caller must stop, so
   * that no insert is cut off by a timeout. Undefined: never.
   */
  readonly abandonAt: number | undefined;
}

/**
 * Starts the insert of a chunk's rows as they reach its buffer: ClickHouse parses the chunk while the object
 * is still being read, and a chunk can be as big as two buffers were without costing more memory. The
 * token is the whole chunk's (independent of its row count, unknown until it closes), so a retry that sends
 * the closed chunk whole is deduplicated against this insert.
 */
export function streamWholeChunk(
  filling: FillingChunk,
  target: ChunkInsertTarget,
  options: StreamOptions,
): StreamedInsert {
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
  const sent = target.insert({
    ...target.base,
    body: filling.body(
      target.poison,
      (why) => {
        abandoned = why;
      },
      outOfTime,
    ),
    settings:
      token === undefined ? target.settings : { ...target.settings, insert_deduplication_token: token },
  });
  sent.catch(() => undefined); // awaited by whoever loads the chunk
  return { sent, abandoned: () => abandoned };
}

/**
 * The outcome of an abandoned streamed insert, as the error the file fails with. ClickHouse should have
 * refused the poisoned body; if it took it, some of the chunk's rows are in the table with no record of
 * them, and the message says so rather than let a retry deduplicate the rest away.
 */
export async function abandonedFailure(
  streamed: StreamedInsert,
  why: Abandoned,
  where: string,
  index: number,
): Promise<Error> {
  const committed = await streamed.sent.then(
    () => true,
    () => false,
  );
  if (committed) {
    return new ChuteError(
      'CLICKHOUSE_FAILED',
      `${where}: the insert of chunk ${index} had to be cut short and ClickHouse committed the part it received instead of refusing it; rows of that chunk may now be in the table twice after a retry, or missing. Check the table for this object's rows and please report this`,
    );
  }
  if (why.reason === 'source')
    return why.error instanceof Error ? why.error : new Error(describeError(why.error));
  return new ChuteError(
    'TIMEOUT_HEADROOM',
    `${where}: stopped inside chunk ${index}, which was still being read, to leave time to finish; nothing of it was committed, and the retry resumes with it`,
  );
}
