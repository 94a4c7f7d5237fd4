import { describe, expect, it } from 'vitest';
import type { ChunkingConfig, DataFormat } from '../../functions/core/config/schema.ts';
import { BufferPool, chunkBufferSize } from '../../functions/core/pipeline/buffer-pool.ts';
import type { Chunk } from '../../functions/core/pipeline/chunk.ts';
import { ChunkAssembler, HeaderUnreadableError } from '../../functions/core/pipeline/chunk-assembler.ts';
import { indexChunk, rowText } from '../../functions/core/pipeline/chunk-index.ts';
import { headerlessAssembler } from '../fixtures/chunks.ts';

interface Run {
  chunks: Chunk[];
  header: string | undefined;
  rows: { text: string; line: number; row: number }[];
  rejected: { raw: string; line: number; row: number; reason: string }[];
  rowsSeen: number;
  blankLines: number;
}

/** Feeds `input` in pieces of `piece` bytes, so every boundary case lands on a buffer edge somewhere. */
function assemble(
  input: string | Buffer,
  options: {
    format?: DataFormat;
    delimiter?: string;
    header?: boolean;
    /** Put the header line in front of every chunk (as for *WithNames inserts). */
    repeatHeader?: boolean;
    piece?: number;
    chunking?: Partial<ChunkingConfig>;
  } = {},
): Run {
  const chunking = {
    maxBytes: 1 << 20,
    maxRows: 100_000,
    maxRecordBytes: 1024,
    insertsInFlight: 2,
    ...options.chunking,
  };
  const format = options.format ?? 'csv';
  const delimiter = options.delimiter ?? (format === 'tsv' ? '\t' : ',');
  let header: string | undefined;
  const assembler = new ChunkAssembler({
    format,
    delimiter,
    chunking,
    header: options.header ?? format !== 'ndjson',
    pool: new BufferPool(chunkBufferSize(chunking)),
    onHeader: (record) => {
      header = record.toString();
      return options.repeatHeader ? record : undefined;
    },
  });
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const piece = options.piece ?? 3;
  const chunks: Chunk[] = [];
  for (let i = 0; i < bytes.length; i += piece) chunks.push(...assembler.push(bytes.subarray(i, i + piece)));
  chunks.push(...assembler.end());
  const rows: Run['rows'] = [];
  const rejected: Run['rejected'] = [];
  for (const chunk of chunks) {
    // Copy out: the pool may hand the buffer to the next chunk.
    const copy = { ...chunk, body: Buffer.from(chunk.body) };
    const index = indexChunk(copy, format, delimiter);
    for (let i = 0; i < copy.rows; i++) {
      rows.push({ text: rowText(copy, index, i), line: index.lines[i] ?? 0, row: index.rowNumbers[i] ?? 0 });
    }
    rejected.push(...chunk.rejected);
  }
  return { chunks, header, rows, rejected, rowsSeen: assembler.rowsSeen, blankLines: assembler.blankLines };
}

describe('ChunkAssembler and indexChunk, CSV', () => {
  it.each([1, 2, 5, 1000])('cuts records, lines and row numbers right with %i-byte pieces', (piece) => {
    const run = assemble('a,b,c\n1,"x,y",3\n4,"multi\nline",6\n\n7,"say ""hi""",9\n', { piece });
    expect(run.header).toBe('a,b,c');
    expect(run.rows).toEqual([
      { text: '1,"x,y",3', line: 2, row: 1 },
      { text: '4,"multi\nline",6', line: 3, row: 2 },
      { text: '7,"say ""hi""",9', line: 6, row: 3 },
    ]);
    expect(run.blankLines).toBe(1);
    expect(run.rowsSeen).toBe(3);
  });

  it('keeps CRLF for CSV (ClickHouse reads it), takes a last line without a line feed', () => {
    const run = assemble('a,b\r\n"x\r\ny",2\r\n3,4');
    expect(run.rows.map((r) => r.text)).toEqual(['"x\r\ny",2\r', '3,4']);
    expect(run.rows.map((r) => r.line)).toEqual([2, 4]);
  });

  it('drops a UTF-8 byte order mark split over buffers and keeps other UTF-8 intact', () => {
    const run = assemble(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('naïve,日本\n1,2\n')]), {
      piece: 1,
    });
    expect(run.header).toBe('naïve,日本');
    expect(run.rows.map((r) => r.text)).toEqual(['1,2']);
  });

  it('sees no header and no rows in an empty input, and no rows in a header-only one', () => {
    expect(assemble('')).toMatchObject({ chunks: [], header: undefined, rowsSeen: 0 });
    expect(assemble('a,b\n')).toMatchObject({ chunks: [], header: 'a,b', rowsSeen: 0 });
  });

  it('treats a quote inside an unquoted field as data, as ClickHouse does', () => {
    expect(assemble('h\nab"c,d\ne,f\n').rows.map((r) => r.text)).toEqual(['ab"c,d', 'e,f']);
  });

  it.each([1, 2, 3, 1000])(
    'opens a quoted field after spaces and tabs, as ClickHouse does, with %i-byte pieces',
    (piece) => {
      // Measured on 18.16 and chDB: `1, "a<LF>b",2` is one row; a quote after field text is still data.
      const run = assemble('h\n1, "a\nb",2\n3,\t "c,\nd" ,4\n5, x "y\n6,z\n', { piece });
      expect(run.rows.map((r) => r.text)).toEqual(['1, "a\nb",2', '3,\t "c,\nd" ,4', '5, x "y', '6,z']);
      expect(run.rows.map((r) => r.line)).toEqual([2, 4, 6, 7]);
    },
  );

  it.each([1, 2, 3, 5, 7])(
    'resumes after an overlong line at a record start, so a quote there opens a field (%i-byte pieces)',
    (piece) => {
      const long = 'x'.repeat(24);
      for (const [input, rows] of [
        [`h\n${long}\n "a\nb",c\n1,2\n`, [' "a\nb",c', '1,2']],
        [`h\n${long}\n"a\nb",c\n1,2\n`, ['"a\nb",c', '1,2']],
        [`h\n1,2\n${long}\n"a\nb",c\n1,2\n`, ['1,2', '"a\nb",c', '1,2']],
      ] as const) {
        const run = assemble(input, { piece, chunking: { maxRecordBytes: 10 } });
        // The chunk's index (a fresh scan of its body) must find the rows the assembler cut.
        expect(run.rows.map((r) => r.text)).toEqual(rows);
        expect(run.chunks.reduce((sum, chunk) => sum + chunk.rows, 0)).toBe(rows.length);
        expect(run.rejected.map((r) => r.raw)).toEqual(['x'.repeat(10)]);
      }
    },
  );

  it('does not take a tab delimiter for a blank before a quote', () => {
    const run = assemble('a\t"b\nc"\n1\tx "y\n2\tz\n', { delimiter: '\t', header: false });
    expect(run.rows.map((r) => r.text)).toEqual(['a\t"b\nc"', '1\tx "y', '2\tz']);
  });

  it('rejects the first line of a runaway quote, resumes on the next line, and loses no other row', () => {
    const good = Array.from({ length: 2000 }, (_, i) => `${i},ok`).join('\n');
    for (const piece of [7, 100, 4096]) {
      const run = assemble(`h1,h2\n1,"never closed\n${good}\n`, { piece, chunking: { maxRecordBytes: 64 } });
      expect(run.rejected).toHaveLength(1);
      expect(run.rejected[0]).toMatchObject({ raw: '1,"never closed', line: 2, row: 1 });
      expect(run.rejected[0]?.reason).toMatch(/a quote never closed/);
      expect(run.rows).toHaveLength(2000);
      expect(run.rows[0]).toEqual({ text: '0,ok', line: 3, row: 2 });
      expect(run.rows[1999]).toEqual({ text: '1999,ok', line: 2002, row: 2001 });
      expect(run.rowsSeen).toBe(2001);
    }
  });

  it('rejects an unterminated quote at the end of the file', () => {
    const run = assemble('a,b\n1,"open\n');
    expect(run.rows).toEqual([]);
    expect(run.rejected).toMatchObject([{ raw: '1,"open', line: 2, row: 1 }]);
  });

  it('rejects an overlong unquoted line, truncated, then goes on', () => {
    const run = assemble(`h\n1,2\n${'x'.repeat(300)}\n3,4\n`, {
      piece: 10,
      chunking: { maxRecordBytes: 64 },
    });
    expect(run.rows).toEqual([
      { text: '1,2', line: 2, row: 1 },
      { text: '3,4', line: 4, row: 3 },
    ]);
    expect(run.rejected).toHaveLength(1);
    expect(run.rejected[0]?.raw.length).toBe(64);
    expect(run.rejected[0]).toMatchObject({ line: 3, row: 2 });
  });

  it.each([3, 1000])('refuses a header longer than maxRecordBytes (pieces of %i bytes)', (piece) => {
    // Repeated in front of every chunk, it would overrun the chunk buffer: rows would be cut short unseen.
    expect(() => assemble(`${'h'.repeat(200)}\n1\n`, { piece, chunking: { maxRecordBytes: 64 } })).toThrow(
      HeaderUnreadableError,
    );
  });

  it('cuts chunks at the first record boundary past maxBytes, the same way every time', () => {
    const input = Array.from({ length: 500 }, (_, i) => `${i},${'v'.repeat(i % 17)}`).join('\n');
    const sizes = (piece: number) =>
      assemble(`h\n${input}\n`, { piece, chunking: { maxBytes: 1024, maxRecordBytes: 64 } }).chunks.map(
        (c) => c.rows,
      );
    const first = sizes(3);
    expect(first.length).toBeGreaterThan(3);
    expect(first.reduce((a, b) => a + b, 0)).toBe(500);
    expect(sizes(1000)).toEqual(first);
    expect(sizes(1)).toEqual(first);
  });

  it('closes chunks on blank lines and rejected records too, so that neither piles up in memory', () => {
    const blanks = '\n'.repeat(5000);
    const overlong = `${'z'.repeat(100)}\n`.repeat(300);
    for (const piece of [7, 100_000]) {
      const run = assemble(`h\n1\n${blanks}${overlong}2\n`, {
        piece,
        chunking: { maxBytes: 2048, maxRows: 1000, maxRecordBytes: 64 },
      });
      expect(run.rows.map((r) => [r.text, r.line])).toEqual([
        ['1', 2],
        ['2', 5303],
      ]);
      expect(run.rejected).toHaveLength(300);
      expect(run.blankLines).toBe(5000);
      for (const chunk of run.chunks) {
        expect(chunk.rows + chunk.skips.length).toBeLessThanOrEqual(1000);
        const rejectedText = chunk.rejected.reduce((sum, r) => sum + r.raw.length, 0);
        expect(rejectedText).toBeLessThan(2048 + 64);
      }
      expect(run.chunks.length).toBeGreaterThan(10);
    }
    // A chunk closed by a rejected record stops the scan there too: one call opens at most one chunk buffer.
    const chunking = { maxBytes: 2048, maxRows: 1000, maxRecordBytes: 64, insertsInFlight: 1 };
    const assembler = headerlessAssembler(chunking);
    expect(assembler.push(Buffer.from(overlong))).toHaveLength(1);
    expect(assembler.hasLeftover).toBe(true);
  });

  it('reads a file whose every line feed is escaped in time linear in its size, without deep recursion', () => {
    // A Windows path ending each TSV line: every line feed is escaped, so the whole file is one record. Reading
    // each rejected record's rest again line by line would take minutes and overflow the stack.
    const input = `a\tb\n${'1\tC:\\dir\\\n'.repeat(120_000)}`;
    const run = assemble(input, { format: 'tsv', piece: 65_536, chunking: { maxRecordBytes: 1024 * 1024 } });
    // A few records in all: the first line, the next MiB whole, and the rest (one record to the end).
    expect(run.rowsSeen).toBe(run.rows.length + run.rejected.length);
    expect(run.rowsSeen).toBeLessThanOrEqual(4);
    expect(run.rejected[0]).toMatchObject({ line: 2, raw: '1\tC:\\dir\\' });
    // Then the rest, whole: its first MiB kept, its lines counted.
    expect(run.rejected[1]?.line).toBe(3);
    expect(run.rejected[1]?.raw.length).toBe(1024 * 1024);
  });

  it('reads lines that each reopen a quote, to an end inside one, without deep recursion', () => {
    const input = `h\n${'"a",",x\n'.repeat(8000)}`;
    const run = assemble(input, { piece: 4096, chunking: { maxRecordBytes: 64 } });
    expect(run.rowsSeen).toBe(run.rows.length + run.rejected.length);
    expect(run.rejected.length).toBeGreaterThan(100);
  });

  it('opens at most one chunk buffer per call at the end of a file left inside a quote', () => {
    const chunking = { maxBytes: 1 << 20, maxRows: 2, maxRecordBytes: 64, insertsInFlight: 1 };
    const pool = new BufferPool(chunkBufferSize(chunking));
    let acquired = 0;
    const acquire = pool.acquire.bind(pool);
    pool.acquire = () => {
      acquired++;
      return acquire();
    };
    const assembler = new ChunkAssembler({ format: 'csv', delimiter: ',', chunking, header: true, pool });
    const chunks = [...assembler.push(Buffer.from('h\n"\n1\n2\n3\n4\n5\n6\n7'))];
    while (assembler.hasLeftover) chunks.push(...assembler.resume());
    let calls = 0;
    while (!assembler.finished) {
      const before = acquired;
      chunks.push(...assembler.endStep());
      expect(acquired - before).toBeLessThanOrEqual(1);
      calls++;
    }
    expect(calls).toBeGreaterThan(2);
    expect(chunks.reduce((sum, c) => sum + c.rows, 0)).toBe(7);
    expect(chunks.flatMap((c) => c.rejected).map((r) => r.raw)).toEqual(['"']);
  });

  it('refuses a header whose quote is never closed, in a file of any size', () => {
    expect(() => assemble('a,"b\nc,d\n1,2\n', { chunking: { maxRecordBytes: 64 } })).toThrow(
      /it opens a quote that is never closed/,
    );
  });

  it('cuts chunks at maxRows', () => {
    const run = assemble(`h\n${Array.from({ length: 25 }, (_, i) => `${i}`).join('\n')}\n`, {
      chunking: { maxRows: 10 },
    });
    expect(run.chunks.map((c) => c.rows)).toEqual([10, 10, 5]);
    expect(run.chunks.map((c) => c.firstRow)).toEqual([1, 11, 21]);
    expect(run.rows[24]).toEqual({ text: '24', line: 26, row: 25 });
  });
});

describe('ChunkAssembler, TSV and NDJSON', () => {
  it('strips CR from TSV lines (ClickHouse refuses it there)', () => {
    const run = assemble('a\tb\r\n1\t2\r\nx\\ty\tz\n', { format: 'tsv', piece: 2 });
    expect(run.header).toBe('a\tb');
    expect(run.rows.map((r) => r.text)).toEqual(['1\t2', 'x\\ty\tz']);
  });

  it.each([1, 2, 3, 64])(
    'keeps a TSV line feed escaped by a backslash inside its row, as ClickHouse does (pieces of %i bytes)',
    (piece) => {
      // `x\` + line feed is one value holding a line feed; `y\\` ends in an escaped backslash, so its line feed
      // ends the row; three backslashes escape the line feed again.
      const input = 'a\tb\n1\tx\\\nstill 1\n2\ty\\\\\n3\tz\\\\\\\nstill 3\n4\tw\n';
      const run = assemble(input, { format: 'tsv', piece });
      expect(run.rows).toEqual([
        { text: '1\tx\\\nstill 1', line: 2, row: 1 },
        { text: '2\ty\\\\', line: 4, row: 2 },
        { text: '3\tz\\\\\\\nstill 3', line: 5, row: 3 },
        { text: '4\tw', line: 7, row: 4 },
      ]);
      expect(run.rowsSeen).toBe(4);
    },
  );

  it('splits NDJSON lines', () => {
    const run = assemble('{"a":1}\n{"a":"x\\ny"}\n\n{"a":3}', { format: 'ndjson', piece: 4 });
    expect(run.rows).toEqual([
      { text: '{"a":1}', line: 1, row: 1 },
      { text: '{"a":"x\\ny"}', line: 2, row: 2 },
      { text: '{"a":3}', line: 4, row: 3 },
    ]);
  });

  it('rejects an overlong line and keeps memory bounded', () => {
    const run = assemble(`{"a":1}\n{"a":"${'y'.repeat(5000)}"}\n{"a":2}\n`, {
      format: 'ndjson',
      piece: 100,
      chunking: { maxRecordBytes: 256 },
    });
    expect(run.rows.map((r) => [r.text, r.line])).toEqual([
      ['{"a":1}', 1],
      ['{"a":2}', 3],
    ]);
    expect(run.rejected[0]?.raw.length).toBe(256);
  });
});

describe('ChunkAssembler, random files', () => {
  /** A seeded generator (an LCG in 32-bit integers), so a failure names a file that can be made again. */
  function seeded(seed: number): (below: number) => number {
    let state = seed >>> 0;
    return (below) => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return Math.floor((state / 2 ** 32) * below); // the high bits: an LCG's low bits repeat with a short period
    };
  }
  const pick = <T>(next: (below: number) => number, items: readonly T[]): T => items[next(items.length)] as T;

  /**
   * One file: records of the format's awkward shapes, blank lines, over-long records, both line ends; with the
   * line each data row and each rejected record starts on, counted as the file is written.
   */
  function randomFile(
    format: DataFormat,
    seed: number,
  ): { text: string; records: number; rowLines: number[]; rejectLines: number[] } {
    const next = seeded(seed);
    const plain = (max: number) =>
      Array.from({ length: next(max) }, () => pick(next, [...'ab1 x9'])).join('');
    const csvField = () =>
      pick(next, [
        () => plain(8),
        () =>
          `${' '.repeat(next(2))}"${Array.from({ length: next(4) }, () => pick(next, ['q', '""', ',', '\n', '\r\n', ' '])).join('')}"`,
        () => `a"b${plain(3)}`,
      ])();
    const tsvField = () =>
      pick(next, [() => plain(8), () => `x\\${pick(next, ['t', '\\', '\n', 'n'])}${plain(3)}`])();
    const field = format === 'csv' ? csvField : format === 'tsv' ? tsvField : () => `"${plain(8)}"`;
    const separator = format === 'csv' ? ',' : '\t';
    let text = '';
    let line = 1;
    const write = (record: string) => {
      text += `${record}${next(4) === 0 ? '\r\n' : '\n'}`;
      line += record.split('\n').length;
    };
    if (format !== 'ndjson') write(`h1${separator}h2${separator}h3`);
    const rowLines: number[] = [];
    const rejectLines: number[] = [];
    // Right after an overlong record lost its first line, the next overlong one is rejected whole.
    let afterOverlong = false;
    const count = 20 + next(120);
    for (let i = 0; i < count; i++) {
      const kind = next(20);
      if (kind === 0) {
        afterOverlong = false;
        write(''); // a blank line
      } else if (kind === 1) {
        rejectLines.push(line);
        afterOverlong = !afterOverlong;
        write(format === 'ndjson' ? `{"a":"${'y'.repeat(100)}"}` : `1${separator}${'z'.repeat(100)}`);
      } else if (kind === 2 && format !== 'ndjson') {
        // Over the limit only past a quoted (or escaped) line feed: its first line is rejected, and what
        // follows is read as a record of its own; or, right after another overlong record, it goes whole.
        rejectLines.push(line);
        if (!afterOverlong) rowLines.push(line + 1);
        afterOverlong = false;
        const opened =
          format === 'csv'
            ? `"${'x'.repeat(50)}\n${'y'.repeat(30)}"`
            : `${'x'.repeat(50)}\\\n${'y'.repeat(30)}`;
        write(`1${separator}${opened}${separator}2`);
      } else {
        afterOverlong = false;
        rowLines.push(line);
        const fields = Array.from({ length: 1 + next(4) }, field);
        // A row of one empty field would be a blank line.
        write(format === 'ndjson' ? `{"a":${fields.join(',"b":')}}` : fields.join(separator) || 'e');
      }
    }
    if (next(3) === 0) text = text.replace(/\r?\n$/, ''); // a last record without its line feed
    return { text, records: rowLines.length + rejectLines.length, rowLines, rejectLines };
  }

  /** What a load depends on: the chunks as cut (not when they were cut), and the counts. */
  function outcome(run: Run) {
    return {
      header: run.header,
      rowsSeen: run.rowsSeen,
      blankLines: run.blankLines,
      chunks: run.chunks.map((chunk) => ({
        body: chunk.body.toString('latin1'),
        prefixBytes: chunk.prefixBytes,
        rows: chunk.rows,
        firstRow: chunk.firstRow,
        firstLine: chunk.firstLine,
        skips: chunk.skips,
        rejected: chunk.rejected,
      })),
      rows: run.rows,
    };
  }

  it.each(['csv', 'tsv', 'ndjson'] as const)(
    'cuts %s files into the same chunks, rows, lines and rejects whatever the pieces they arrive in',
    (format) => {
      for (let seed = 1; seed <= 150; seed++) {
        const file = randomFile(format, seed);
        const limits = seeded(seed * 7919);
        const chunking = { maxBytes: 30 + limits(300), maxRows: 1 + limits(12), maxRecordBytes: 64 };
        // Half the files put their header in front of every chunk: its bytes are not the records'.
        const repeatHeader = format !== 'ndjson' && seed % 2 === 0;
        // One byte at a time, every record comes together from pieces; the whole file at once, records come
        // in runs: two different paths through the assembler, which must agree.
        const whole = outcome(
          assemble(file.text, { format, piece: file.text.length + 1, chunking, repeatHeader }),
        );
        for (const piece of [1, 2, 7, 64]) {
          expect(
            outcome(assemble(file.text, { format, piece, chunking, repeatHeader })),
            `seed ${seed}, pieces of ${piece}`,
          ).toEqual(whole);
        }
        expect(whole.rowsSeen, `seed ${seed}`).toBe(file.records);
        expect(
          whole.rows.map((row) => row.line),
          `seed ${seed}`,
        ).toEqual(file.rowLines);
        expect(
          whole.chunks.flatMap((chunk) => chunk.rejected.map((rejected) => rejected.line)),
          `seed ${seed}`,
        ).toEqual(file.rejectLines);
      }
    },
  );
});
