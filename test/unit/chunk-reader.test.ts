import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/parse.ts';
import { BufferPool, chunkBufferSize } from '../../functions/core/pipeline/buffer-pool.ts';
import type { Chunk } from '../../functions/core/pipeline/chunk.ts';
import { ChunkReader } from '../../functions/core/pipeline/read-chunks.ts';

const chunking = { maxBytes: 1024, maxRows: 100_000, maxRecordBytes: 256, insertsInFlight: 1 };

function csvRoute() {
  const config = parseConfig({
    clickhouse: { url: 'http://127.0.0.1:8123' },
    routes: [{ prefix: 'in/', table: 'events', format: 'csv' }],
  });
  const route = config.routes[0];
  if (route === undefined) throw new Error('no route');
  return route;
}

/** 100 rows of about 30 bytes after a header, handed over in pieces of 100 bytes. */
async function* pieces(text: string): AsyncGenerator<Buffer> {
  for (let at = 0; at < text.length; at += 100) yield Buffer.from(text.slice(at, at + 100));
}

/** A reader of `source` whose pool lets `buffers` chunk buffers out at once, with the counts it keeps. */
function readerOf(source: AsyncIterable<Buffer>, buffers: number, limits = chunking) {
  const pool = new BufferPool(chunkBufferSize(limits), buffers);
  const counts = { rows: 0, blankLines: 0, bytes: 0 };
  const reader = new ChunkReader(source, csvRoute(), limits, 'test.csv', { pool, counts });
  return { reader, pool, counts };
}

/** Each chunk the reader closes, in order (chunks that closed empty left out); the caller releases each. */
async function* closedChunks(reader: ChunkReader): AsyncGenerator<Chunk> {
  for (let filling = await reader.next(); filling !== undefined; filling = await reader.next()) {
    const chunk = await filling.closed;
    if (chunk !== undefined) yield chunk;
  }
}

const TEXT = `id,name\n${Array.from({ length: 100 }, (_, i) => `${i + 1},customer number ${i + 1}`).join('\n')}\n`;

describe('ChunkReader', () => {
  it('never has more chunk buffers out than the pool allows, and reads on once one is released', async () => {
    const { reader, pool, counts } = readerOf(pieces(TEXT), 1);
    const closed: Chunk[] = [];
    for await (const chunk of closedChunks(reader)) {
      // With one buffer out, the reader waits: the next chunk cannot have opened.
      await new Promise((resolve) => setImmediate(resolve));
      expect(counts.bytes).toBeLessThanOrEqual(chunk.bytesThrough + 100);
      closed.push({ ...chunk, body: Buffer.from(chunk.body) });
      pool.release(chunk.body);
    }
    expect(closed.length).toBeGreaterThan(2);
    expect(closed.map((c) => c.index)).toEqual(closed.map((_, i) => i));
    expect(closed.at(-1)?.final).toBe(true);
    const rows = closed.reduce((sum, c) => sum + c.rows, 0);
    expect(rows).toBe(100);
    expect(Buffer.concat(closed.map((c) => c.body)).toString()).toBe(TEXT.slice('id,name\n'.length));
  });

  it.each([
    ['an invalid header', 'id,,name', /test\.csv, line 3, header field 2: empty column name/],
    ['a header over maxRecordBytes', `id,${'n'.repeat(300)}`, /test\.csv, line 3: the header is unreadable/],
  ])('names the line of %s that blank lines precede', async (_, header, message) => {
    const text = `\n\r\n${header}\n1,a\n`;
    const { reader } = readerOf(pieces(text), 1);
    await expect(reader.next()).rejects.toThrow(message);
  });

  it('ends a file left inside a quote a chunk at a time, within the pool, with every row', async () => {
    const small = { ...chunking, maxRows: 2 };
    const text = `id,name\n"\n${Array.from({ length: 9 }, (_, i) => `${i},n`).join('\n')}`;
    const { reader, pool } = readerOf(pieces(text), 1, small);
    const chunks: Chunk[] = [];
    for await (const chunk of closedChunks(reader)) {
      chunks.push({ ...chunk, body: Buffer.from(chunk.body) });
      pool.release(chunk.body);
    }
    expect(chunks.reduce((sum, c) => sum + c.rows, 0)).toBe(9);
    expect(chunks.flatMap((c) => c.rejected).map((r) => r.line)).toEqual([2]);
    expect(chunks.at(-1)?.final).toBe(true);
  });

  it('hands out the next chunk while one is held when the pool allows two', async () => {
    const { reader } = readerOf(pieces(TEXT), 2);
    const first = await reader.next();
    const second = await reader.next(); // opens while the first is neither inserted nor released
    expect(first?.index).toBe(0);
    expect(second?.index).toBe(1);
    await reader.stop();
    await expect(second?.closed).rejects.toThrow();
  });

  it('fails the open chunk and next() with what stopped the reading', async () => {
    const failure = new Error('connection reset');
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from(TEXT.slice(0, 300));
      throw failure;
    }
    const { reader } = readerOf(failing(), 1);
    const filling = await reader.next();
    await expect(filling?.closed).rejects.toBe(failure);
    await expect(reader.next()).rejects.toBe(failure);
  });
});
