import { describe, expect, it } from 'vitest';
import type { ChunkingConfig } from '../../functions/core/config/schema.ts';
import { RecordScanner, type ScannedRecord } from '../../functions/core/format/record-scanner.ts';
import { type Chunk, chunkRows, chunkSlice, rowText } from '../../functions/core/pipeline/chunk.ts';
import { Chunker, type ChunkerOptions } from '../../functions/core/pipeline/chunker.ts';

function chunking(maxBytes: number, maxRows = 1000, maxRecordBytes = 256): ChunkingConfig {
  return { maxBytes, maxRows, maxRecordBytes };
}

function record(text: string, line: number, fields = 1): ScannedRecord {
  return { bytes: Buffer.from(text), line, fields };
}

/** Runs records through a chunker and returns every chunk, the last one included. */
function chunkAll(options: ChunkerOptions, records: readonly ScannedRecord[]): Chunk[] {
  const chunker = new Chunker(options);
  const chunks: Chunk[] = [];
  let bytes = 0;
  for (const r of records) {
    bytes += r.bytes.length + 1;
    const chunk = chunker.add(r, bytes);
    if (chunk !== undefined) chunks.push(chunk);
  }
  const last = chunker.finish(bytes);
  if (last !== undefined) chunks.push(last);
  return chunks;
}

/** Every row's text, chunk by chunk. */
function rowsOf(chunks: readonly Chunk[]): string[][] {
  return chunks.map((chunk) => Array.from({ length: chunkRows(chunk) }, (_, i) => rowText(chunk, i)));
}

/** `row0001`…: records of 7 bytes (8 with the line feed), one per line. */
function numbered(count: number): ScannedRecord[] {
  return Array.from({ length: count }, (_, i) => record(`row${String(i + 1).padStart(4, '0')}`, i + 1));
}

describe('Chunker boundaries', () => {
  it('closes a chunk at the first record that reaches maxBytes', () => {
    // 8 bytes a row with its line feed: 20 bytes are reached by the third row.
    const chunks = chunkAll({ chunking: chunking(20) }, numbered(7));
    expect(rowsOf(chunks)).toEqual([
      ['row0001', 'row0002', 'row0003'],
      ['row0004', 'row0005', 'row0006'],
      ['row0007'],
    ]);
    expect(chunks.map((c) => c.body.length)).toEqual([24, 24, 8]);
    expect(chunks.map((c) => c.index)).toEqual([0, 1, 2]);
  });

  it('closes exactly at maxBytes when a record ends there', () => {
    const chunks = chunkAll({ chunking: chunking(16) }, numbered(5));
    expect(rowsOf(chunks)).toEqual([['row0001', 'row0002'], ['row0003', 'row0004'], ['row0005']]);
  });

  it('keeps a long record whole in the chunk it overflows', () => {
    const long = 'x'.repeat(100);
    const chunks = chunkAll({ chunking: chunking(20) }, [record('a', 1), record(long, 2), record('b', 3)]);
    expect(rowsOf(chunks)).toEqual([['a', long], ['b']]);
  });

  it('closes a chunk at maxRows', () => {
    const chunks = chunkAll({ chunking: chunking(1 << 20, 2) }, numbered(5));
    expect(rowsOf(chunks)).toEqual([['row0001', 'row0002'], ['row0003', 'row0004'], ['row0005']]);
  });

  it('gives nothing for no records, and no empty last chunk after an exact fill', () => {
    expect(chunkAll({ chunking: chunking(1024) }, [])).toEqual([]);
    const chunks = chunkAll({ chunking: chunking(1024, 2) }, numbered(4));
    expect(chunks.map(chunkRows)).toEqual([2, 2]);
  });

  it('records the bytes consumed through the end of each chunk', () => {
    const chunks = chunkAll({ chunking: chunking(20) }, numbered(7));
    expect(chunks.map((c) => c.bytesThrough)).toEqual([24, 48, 56]);
  });

  it('cuts the same records at the same places every time', () => {
    const records = Array.from({ length: 200 }, (_, i) => record('v'.repeat((i * 37) % 23), i + 1, 1));
    const shape = (chunks: Chunk[]) =>
      chunks.map((c) => ({ body: c.body.toString('hex'), offsets: [...c.offsets], rows: [...c.rowNumbers] }));
    const first = shape(chunkAll({ chunking: chunking(50, 7) }, records));
    const second = shape(chunkAll({ chunking: chunking(50, 7) }, records));
    expect(second).toEqual(first);
    expect(first.length).toBeGreaterThan(5);
  });

  it('cuts the same chunks whatever pieces the bytes arrive in', () => {
    const text = Array.from({ length: 120 }, (_, i) => `${i},"v ${'q'.repeat(i % 11)}\n${i}",${i * 3}`).join(
      '\n',
    );
    const cut = (pieceSize: number) => {
      const chunker = new Chunker({ chunking: chunking(200, 13), expectedFields: 3 });
      const chunks: Chunk[] = [];
      const scanner = new RecordScanner(
        { format: 'csv', maxRecordBytes: 256 },
        {
          record: (r) => {
            const chunk = chunker.add(r, 0);
            if (chunk !== undefined) chunks.push(chunk);
          },
          oversized: (r) => chunker.reject(r),
        },
      );
      const input = Buffer.from(text);
      for (let i = 0; i < input.length; i += pieceSize) scanner.push(input.subarray(i, i + pieceSize));
      scanner.end();
      const last = chunker.finish(0);
      if (last !== undefined) chunks.push(last);
      return chunks.map((c) => ({
        body: c.body.toString(),
        lines: [...c.lines],
        rejected: c.rejected.length,
      }));
    };
    const whole = cut(Buffer.byteLength(text));
    expect(whole.length).toBeGreaterThan(5);
    expect(whole.every((c) => c.rejected === 0)).toBe(true);
    for (const piece of [1, 3, 64, 1000]) expect(cut(piece)).toEqual(whole);
  });
});

describe('Chunker bookkeeping', () => {
  it('tracks lines and 1-based row numbers, and skips blank lines', () => {
    const chunker = new Chunker({ chunking: chunking(1024) });
    expect(chunker.add(record('a', 2), 0)).toBeUndefined();
    expect(chunker.add(record('', 3), 0)).toBeUndefined();
    expect(chunker.add(record('  \r', 4), 0)).toBeUndefined();
    expect(chunker.add(record('b', 5), 0)).toBeUndefined();
    expect(chunker.add(record('c\nd', 6), 0)).toBeUndefined();
    expect(chunker.add(record('e', 8), 0)).toBeUndefined();
    expect(chunker.blankLines).toBe(2);
    expect(chunker.rowsSeen).toBe(4);
    const chunk = chunker.finish(0);
    if (chunk === undefined) throw new Error('expected a chunk');
    expect([...chunk.lines]).toEqual([2, 5, 6, 8]);
    expect([...chunk.rowNumbers]).toEqual([1, 2, 3, 4]);
    expect([...chunk.offsets]).toEqual([0, 2, 4, 8, 10]);
    expect(chunk.body.toString()).toBe('a\nb\nc\nd\ne\n');
    expect(rowText(chunk, 2)).toBe('c\nd');
  });

  it('does not treat a tab or other whitespace as blank', () => {
    const chunks = chunkAll({ chunking: chunking(1024) }, [record('\t', 1), record(' x ', 2)]);
    expect(rowsOf(chunks)).toEqual([['\t', ' x ']]);
  });

  it('continues row numbers across chunks', () => {
    const chunks = chunkAll({ chunking: chunking(1024, 2) }, numbered(5));
    expect(chunks.map((c) => [...c.rowNumbers])).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks.map((c) => [...c.lines])).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('rejects a record with the wrong field count, naming the expected columns', () => {
    const options: ChunkerOptions = {
      chunking: chunking(1024),
      expectedFields: 3,
      columnNames: ['id', 'name', 'amount'],
    };
    const chunks = chunkAll(options, [
      record('1,a,2', 2, 3),
      record('2,b', 3, 2),
      record('3,c,4', 4, 3),
      record('4,d,5,6', 5, 4),
    ]);
    expect(chunks).toHaveLength(1);
    const chunk = chunks[0];
    if (chunk === undefined) throw new Error('expected a chunk');
    expect(rowsOf(chunks)).toEqual([['1,a,2', '3,c,4']]);
    expect([...chunk.rowNumbers]).toEqual([1, 3]);
    expect(chunk.rejected).toEqual([
      { line: 3, row: 2, reason: 'expected 3 fields (id, name, amount), found 2', raw: '2,b' },
      { line: 5, row: 4, reason: 'expected 3 fields (id, name, amount), found 4', raw: '4,d,5,6' },
    ]);
  });

  it('shortens a long column list in the field-count reason, and says "the header" without names', () => {
    const names = Array.from({ length: 10 }, (_, i) => `c${i}`);
    const [named] = chunkAll({ chunking: chunking(1024), expectedFields: 10, columnNames: names }, [
      record('x', 1, 1),
    ]);
    expect(named?.rejected[0]?.reason).toBe(
      'expected 10 fields (c0, c1, c2, c3, c4, c5, c6, c7, …), found 1',
    );
    const [anonymous] = chunkAll({ chunking: chunking(1024), expectedFields: 2 }, [record('x', 1, 1)]);
    expect(anonymous?.rejected[0]?.reason).toBe('expected 2 fields (the header), found 1');
  });

  it('rejects oversized records in order with the rows around them', () => {
    const chunker = new Chunker({ chunking: chunking(1024) });
    chunker.add(record('a', 1), 0);
    chunker.reject({ bytes: Buffer.from('"runaway'), line: 2, reason: 'record longer than 256 bytes' });
    chunker.add(record('b', 3), 0);
    const chunk = chunker.finish(0);
    expect(chunk?.rejected).toEqual([
      { line: 2, row: 2, reason: 'record longer than 256 bytes', raw: '"runaway' },
    ]);
    expect([...(chunk?.rowNumbers ?? [])]).toEqual([1, 3]);
    expect(chunker.rowsSeen).toBe(3);
  });

  it('hands rejected rows to the chunk open when they were seen', () => {
    const chunks = chunkAll({ chunking: chunking(1024, 2), expectedFields: 1 }, [
      record('a', 1),
      record('b', 2),
      record('x,y', 3, 2),
      record('c', 4),
    ]);
    expect(chunks.map((c) => c.rejected.map((r) => r.line))).toEqual([[], [3]]);
    expect(rowsOf(chunks)).toEqual([['a', 'b'], ['c']]);
  });

  it('closes a last chunk holding only rejected rows', () => {
    const chunks = chunkAll({ chunking: chunking(1024), expectedFields: 2 }, [record('x', 7, 1)]);
    expect(chunks).toHaveLength(1);
    expect(chunkRows(chunks[0] as Chunk)).toBe(0);
    expect(chunks[0]?.rejected.map((r) => r.row)).toEqual([1]);
  });

  it('copies record bytes, so reused input buffers do not change a chunk', () => {
    const chunker = new Chunker({ chunking: chunking(1024) });
    const shared = Buffer.from('abc');
    chunker.add({ bytes: shared, line: 1, fields: 1 }, 0);
    shared.write('zzz');
    chunker.add({ bytes: shared, line: 2, fields: 1 }, 0);
    const chunk = chunker.finish(0);
    expect(chunk?.body.toString()).toBe('abc\nzzz\n');
  });
});

describe('chunks with a header prefix', () => {
  const prefix = Buffer.from('id,name');
  const options: ChunkerOptions = { chunking: chunking(20), prefix, expectedFields: 2 };
  const records = [
    record('1,aaaa', 2, 2),
    record('2,bbbb', 3, 2),
    record('3,cccc', 4, 2),
    record('4,dddd', 5, 2),
    record('5,eeee', 6, 2),
  ];

  it('starts every chunk with the prefix, and does not count it against maxBytes', () => {
    const chunks = chunkAll(options, records);
    expect(chunks.map((c) => c.body.toString())).toEqual([
      'id,name\n1,aaaa\n2,bbbb\n3,cccc\n',
      'id,name\n4,dddd\n5,eeee\n',
    ]);
    expect(chunks.map((c) => c.prefixBytes)).toEqual([8, 8]);
    expect(chunks.map((c) => c.offsets[0])).toEqual([8, 8]);
    expect(rowsOf(chunks)).toEqual([
      ['1,aaaa', '2,bbbb', '3,cccc'],
      ['4,dddd', '5,eeee'],
    ]);
  });

  it('keeps the prefix in front of every slice', () => {
    const [chunk] = chunkAll(options, records);
    if (chunk === undefined) throw new Error('expected a chunk');
    expect(chunkSlice(chunk, 0, 3).toString()).toBe('id,name\n1,aaaa\n2,bbbb\n3,cccc\n');
    expect(chunkSlice(chunk, 0, 3)).toBe(chunk.body);
    expect(chunkSlice(chunk, 1, 2).toString()).toBe('id,name\n2,bbbb\n');
    expect(chunkSlice(chunk, 2, 3).toString()).toBe('id,name\n3,cccc\n');
    expect(chunkSlice(chunk, 0, 1).toString()).toBe('id,name\n1,aaaa\n');
  });

  it('gives a chunk of only rejected rows just the prefix and no rows', () => {
    const chunks = chunkAll(options, [record('bad', 2, 1)]);
    expect(chunks).toHaveLength(1);
    const chunk = chunks[0] as Chunk;
    expect(chunkRows(chunk)).toBe(0);
    expect(chunk.body.toString()).toBe('id,name\n');
    expect(chunk.rejected).toHaveLength(1);
  });
});

describe('chunkSlice and rowText without a prefix', () => {
  const [chunk] = chunkAll({ chunking: chunking(1024) }, [record('a', 1), record('bb', 2), record('ccc', 3)]);

  it('slices rows [from, to) as views of the body', () => {
    if (chunk === undefined) throw new Error('expected a chunk');
    expect(chunkRows(chunk)).toBe(3);
    expect(chunkSlice(chunk, 0, 3).toString()).toBe('a\nbb\nccc\n');
    expect(chunkSlice(chunk, 1, 2).toString()).toBe('bb\n');
    expect(chunkSlice(chunk, 1, 3).toString()).toBe('bb\nccc\n');
    expect(chunkSlice(chunk, 2, 2).toString()).toBe('');
    expect(chunkSlice(chunk, 1, 2).buffer).toBe(chunk.body.buffer);
  });

  it('gives each row’s text without its line feed', () => {
    if (chunk === undefined) throw new Error('expected a chunk');
    expect([0, 1, 2].map((i) => rowText(chunk, i))).toEqual(['a', 'bb', 'ccc']);
  });
});
