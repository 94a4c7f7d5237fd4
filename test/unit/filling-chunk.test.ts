import { describe, expect, it } from 'vitest';
import type { Chunk } from '../../functions/core/pipeline/chunk.ts';
import type { Abandoned } from '../../functions/core/pipeline/filling-chunk.ts';
import { FillingChunk } from '../../functions/core/pipeline/filling-chunk.ts';
import { closedChunk } from '../fixtures/chunks.ts';

const POISON = Buffer.from('"a"b\n');
const MiB = 1024 * 1024;

async function collect(body: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const pieces: Buffer[] = [];
  for await (const piece of body) pieces.push(Buffer.from(piece));
  return pieces;
}

describe('FillingChunk', () => {
  it('sends the bytes as they become final, in pieces of at least 2 MiB but the last, and ends when it closes', async () => {
    const buffer = Buffer.alloc(5 * MiB, 0x61);
    const filling = new FillingChunk(0, buffer, 0, 0, 0);
    const why: Abandoned[] = [];
    const sent = collect(filling.body(POISON, 2 * MiB, (w) => why.push(w), undefined));
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    filling.grow(MiB, 1); // not yet enough for a piece
    await tick();
    filling.grow(2 * MiB + 10, 1);
    await tick();
    filling.grow(4 * MiB, 1); // 2 MiB - 10 more: not yet
    await tick();
    filling.close(closedChunk(buffer, 4 * MiB + 7, 3));
    const pieces = await sent;
    expect(pieces.map((p) => p.length)).toEqual([2 * MiB + 10, 2 * MiB - 10 + 7]);
    expect(Buffer.concat(pieces).equals(buffer.subarray(0, 4 * MiB + 7))).toBe(true);
    expect(why).toEqual([]);
    await expect(filling.hasData).resolves.toBe(true);
  });

  it('ends with the poison, and says why, when the object cannot be read to the chunk’s end', async () => {
    const buffer = Buffer.alloc(3 * MiB, 0x62);
    const filling = new FillingChunk(2, buffer, 0, 0, 0);
    const why: Abandoned[] = [];
    const sent = collect(filling.body(POISON, 2 * MiB, (w) => why.push(w), undefined));
    filling.grow(3 * MiB - 1, 1);
    await new Promise((resolve) => setImmediate(resolve));
    const failure = new Error('socket reset');
    filling.fail(failure);
    const pieces = await sent;
    expect(pieces.at(-1)).toEqual(POISON);
    expect(Buffer.concat(pieces.slice(0, -1)).length).toBe(3 * MiB - 1);
    expect(why).toEqual([{ reason: 'source', error: failure }]);
    await expect(filling.closed).rejects.toBe(failure);
  });

  it('ends with the poison once the time to give up has come, even while no byte arrives', async () => {
    const buffer = Buffer.alloc(MiB, 0x63);
    const filling = new FillingChunk(0, buffer, 0, 100, 0);
    const why: Abandoned[] = [];
    const giveUpAt = Date.now() + 50;
    const sent = collect(
      filling.body(
        POISON,
        2 * MiB,
        (w) => why.push(w),
        () => ({ waitMs: giveUpAt - Date.now(), over: Date.now() >= giveUpAt }),
      ),
    );
    const pieces = await sent; // nothing more is ever written: only the timer can end it
    expect(pieces).toEqual([POISON]);
    expect(why).toEqual([{ reason: 'time' }]);
  });

  it('sends what has arrived at least every quarter of the idle limit, so that a slow object keeps the request alive', async () => {
    const buffer = Buffer.alloc(MiB, 0x65);
    const filling = new FillingChunk(0, buffer, 0, 0, 0);
    const why: Abandoned[] = [];
    const pieces: Buffer[] = [];
    const sending = (async () => {
      for await (const piece of filling.body(POISON, 2 * MiB, (w) => why.push(w), undefined, 400)) {
        pieces.push(Buffer.from(piece));
      }
    })();
    filling.grow(100, 1); // far below 2 MiB
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(pieces.map((p) => p.length)).toEqual([100]);
    filling.close(closedChunk(buffer, 150, 2));
    await sending;
    expect(pieces.map((p) => p.length)).toEqual([100, 50]);
    expect(why).toEqual([]);
  });

  it('sends the rest of a chunk that closed, however late: only a chunk still filling is given up', async () => {
    const buffer = Buffer.alloc(MiB, 0x64);
    const filling = new FillingChunk(0, buffer, 0, 0, 0);
    filling.close(closedChunk(buffer, 1000, 10));
    const why: Abandoned[] = [];
    const pieces = await collect(
      filling.body(
        POISON,
        2 * MiB,
        (w) => why.push(w),
        () => ({ waitMs: -1, over: true }),
      ),
    );
    expect(Buffer.concat(pieces).equals(buffer.subarray(0, 1000))).toBe(true);
    expect(why).toEqual([]);
  });

  it('gives the chunk as it stands once it holds enough rows, or whole if it closes with fewer', async () => {
    const buffer = Buffer.alloc(64);
    let snapshots = 0;
    const partial = (): Chunk => {
      snapshots++;
      return closedChunk(buffer, 30, 5);
    };
    const filling = new FillingChunk(0, buffer, 0, 0, 0, partial);
    const first = filling.firstRows(5);
    filling.grow(10, 2);
    filling.grow(30, 5);
    await expect(first).resolves.toMatchObject({ rows: 5 });
    expect(snapshots).toBe(1);

    const short = new FillingChunk(1, buffer, 0, 0, 0, partial);
    const waiting = short.firstRows(100);
    const whole = closedChunk(buffer, 12, 3);
    short.close(whole);
    await expect(waiting).resolves.toBe(whole);
  });

  it('tells that a chunk held no row: a header alone, or a chunk that closed empty', async () => {
    const header = new FillingChunk(0, Buffer.from('id,name\n'), 8, 8, 0);
    header.close(undefined);
    await expect(header.hasData).resolves.toBe(false);
    await expect(header.closed).resolves.toBeUndefined();
    const withRow = new FillingChunk(1, Buffer.alloc(64), 8, 8, 0);
    withRow.grow(20, 1);
    await expect(withRow.hasData).resolves.toBe(true);
  });
});
