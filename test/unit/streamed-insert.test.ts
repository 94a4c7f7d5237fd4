import { describe, expect, it } from 'vitest';
import { ChuteError } from '../../functions/core/errors.ts';
import type { ChunkInsertTarget } from '../../functions/core/pipeline/chunk-loader.ts';
import { FillingChunk } from '../../functions/core/pipeline/filling-chunk.ts';
import {
  AbandonedInsertError,
  abandonedFailure,
  closedOrFailed,
  PartialCommitError,
  streamWholeChunk,
} from '../../functions/core/pipeline/streamed-insert.ts';
import { DataRejectedError, type RawInsert } from '../../functions/core/ports/warehouse.ts';
import { closedChunk } from '../fixtures/chunks.ts';

const POISON = Buffer.from('"a"b\n');
const WHERE = 's3://bucket/file.csv';

/** A target whose insert reads the whole body, then answers as told. */
function target(answer: (body: Buffer) => Promise<void>, seen: RawInsert[] = []): ChunkInsertTarget {
  return {
    base: { table: { database: 'default', table: 'events' }, columns: ['id'], format: 'CSV' },
    settings: { input_format_allow_errors_num: 0 },
    token: (index, range) => `v:${index}:${range === undefined ? 'whole' : range.join('-')}`,
    poison: POISON,
    insert: async (insert) => {
      seen.push(insert);
      const pieces: Buffer[] = [];
      for await (const piece of insert.body) pieces.push(Buffer.from(piece));
      await answer(Buffer.concat(pieces));
    },
  };
}

const rows = Buffer.from('1\n2\n3\n');

describe('streamWholeChunk', () => {
  it('sends the whole chunk with the whole chunk’s token and settles with ClickHouse’s answer', async () => {
    const buffer = Buffer.alloc(64);
    rows.copy(buffer);
    const filling = new FillingChunk(4, buffer, 0, rows.length, 0);
    let body: Buffer | undefined;
    const seen: RawInsert[] = [];
    const sent = streamWholeChunk(
      filling,
      target(async (b) => {
        body = b;
      }, seen),
      { abandonAt: undefined, idleLimitMs: 60_000, sendAtLeast: 1 },
    );
    filling.close(closedChunk(buffer, rows.length, 3, 4));
    await expect(sent).resolves.toBeUndefined();
    expect(body?.toString()).toBe('1\n2\n3\n');
    expect(seen[0]?.settings.insert_deduplication_token).toBe('v:4:whole');
  });

  it('ends in AbandonedInsertError when the chunk could not be read, saying whether ClickHouse took any of it', async () => {
    const answers: [string, () => Promise<void>][] = [
      ['no', async () => Promise.reject(new DataRejectedError('Cannot parse input', '27', 4))],
      ['yes', async () => undefined],
      ['unknown', async () => Promise.reject(new Error('socket hang up'))],
    ];
    for (const [committed, answer] of answers) {
      const filling = new FillingChunk(0, Buffer.from(rows), 0, rows.length, 0);
      const bodies: Buffer[] = [];
      const sent = streamWholeChunk(
        filling,
        target(async (body) => {
          bodies.push(body);
          await answer();
        }),
        { abandonAt: undefined, idleLimitMs: 60_000, sendAtLeast: 1 },
      );
      const readError = new ChuteError('OBJECT_READ_FAILED', `${WHERE}: reading failed`);
      filling.fail(readError);
      const error = await sent.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(bodies[0]?.toString()).toBe(`1\n2\n3\n${POISON.toString()}`);
      expect(error).toBeInstanceOf(AbandonedInsertError);
      expect((error as AbandonedInsertError).committed).toBe(committed);
      const failure = abandonedFailure(error as AbandonedInsertError, WHERE, 0);
      if (committed === 'no') expect(failure).toBe(readError);
      else {
        expect(failure).toBeInstanceOf(PartialCommitError);
        expect(failure.message).toMatch(/Rows of that chunk may be in the table/);
      }
    }
  });

  it('gives up a body whose chunk stops growing before the client’s idle timeout would cut it', async () => {
    const filling = new FillingChunk(1, Buffer.from(rows), 0, rows.length, 0);
    const bodies: Buffer[] = [];
    const sent = streamWholeChunk(
      filling,
      target(async (body) => {
        bodies.push(body);
        throw new DataRejectedError('Cannot parse input', '27', 4);
      }),
      { abandonAt: undefined, idleLimitMs: 30, sendAtLeast: 1 },
    );
    const error = await sent.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(bodies[0]?.toString()).toBe(`1\n2\n3\n${POISON.toString()}`);
    expect(abandonedFailure(error as AbandonedInsertError, WHERE, 1)).toMatchObject({
      code: 'OBJECT_READ_FAILED',
    });
  });
});

describe('closedOrFailed', () => {
  it('fails at once when the streamed insert fails for a reason other than the rows', async () => {
    const filling = new FillingChunk(0, Buffer.from(rows), 0, rows.length, 0);
    const lost = new Error('ECONNRESET');
    const sent = streamWholeChunk(
      filling,
      {
        ...target(async () => undefined),
        insert: async () => {
          throw lost;
        },
      },
      { abandonAt: undefined, idleLimitMs: 60_000, sendAtLeast: 1 },
    );
    // The chunk never closes: only the insert's failure can end this.
    await expect(closedOrFailed(filling, sent, WHERE)).rejects.toBe(lost);
  });

  it('fails at once, without waiting for the chunk to close, when the body is given up for time', async () => {
    const filling = new FillingChunk(2, Buffer.from(rows), 0, rows.length, 0);
    const sent = streamWholeChunk(
      filling,
      target(async () => {
        throw new DataRejectedError('Cannot parse input', '27', 4);
      }),
      { abandonAt: Date.now() + 20, idleLimitMs: 60_000, sendAtLeast: 1024 },
    );
    // The chunk never closes: only giving up can end this.
    const error = await closedOrFailed(filling, sent, WHERE).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'TIMEOUT_HEADROOM' });
    expect(String(error)).toMatch(/stopped inside chunk 2/);
  });

  it('waits for the chunk to close when ClickHouse refused its rows: they are isolated afterwards', async () => {
    const buffer = Buffer.alloc(64);
    rows.copy(buffer);
    const filling = new FillingChunk(0, buffer, 0, rows.length, 0);
    const refusal = new DataRejectedError('Cannot parse input', '27', 2);
    let refuse: () => void = () => undefined;
    const refused = new Promise<void>((resolve) => {
      refuse = resolve;
    });
    const sent = streamWholeChunk(
      filling,
      {
        ...target(async () => undefined),
        insert: async () => {
          await refused;
          throw refusal;
        },
      },
      { abandonAt: undefined, idleLimitMs: 60_000, sendAtLeast: 1 },
    );
    const closed = closedOrFailed(filling, sent, WHERE);
    refuse();
    await expect(sent).rejects.toBe(refusal);
    const chunk = closedChunk(buffer, rows.length, 3);
    filling.close(chunk);
    await expect(closed).resolves.toBe(chunk);
  });
});
