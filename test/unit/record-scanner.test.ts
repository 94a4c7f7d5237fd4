import { describe, expect, it } from 'vitest';
import type { DataFormat } from '../../functions/core/config/schema.ts';
import { RecordScanner } from '../../functions/core/format/record-scanner.ts';

interface Seen {
  records: { text: string; line: number; fields: number }[];
  oversized: { text: string; line: number; reason: string }[];
}

/** Feeds `input` in pieces of `pieceSize` bytes, so every boundary case crosses a buffer edge somewhere. */
function scan(input: string | Buffer, format: DataFormat, pieceSize = 3, maxRecordBytes = 1024): Seen {
  const seen: Seen = { records: [], oversized: [] };
  const scanner = new RecordScanner(
    { format, maxRecordBytes },
    {
      record: (r) => seen.records.push({ text: r.bytes.toString(), line: r.line, fields: r.fields }),
      oversized: (r) => seen.oversized.push({ text: r.bytes.toString(), line: r.line, reason: r.reason }),
    },
  );
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  for (let i = 0; i < bytes.length; i += pieceSize) scanner.push(bytes.subarray(i, i + pieceSize));
  scanner.end();
  return seen;
}

describe('RecordScanner, CSV', () => {
  it.each([1, 2, 5, 1000])('splits records and counts fields with %i-byte pieces', (piece) => {
    const seen = scan('a,b,c\n1,"x,y",3\n4,"multi\nline",6\n7,"say ""hi""",9\n', 'csv', piece);
    expect(seen.records).toEqual([
      { text: 'a,b,c', line: 1, fields: 3 },
      { text: '1,"x,y",3', line: 2, fields: 3 },
      { text: '4,"multi\nline",6', line: 3, fields: 3 },
      { text: '7,"say ""hi""",9', line: 5, fields: 3 },
    ]);
    expect(seen.oversized).toEqual([]);
  });

  it('strips CRLF terminators, keeps CR inside quotes, and takes a last line without a line feed', () => {
    const seen = scan('a,b\r\n"x\r\ny",2\r\n3,4', 'csv');
    expect(seen.records.map((r) => r.text)).toEqual(['a,b', '"x\r\ny",2', '3,4']);
  });

  it('drops a UTF-8 byte order mark and keeps other UTF-8 intact', () => {
    const seen = scan(
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('naïve,日本\n')]),
      'csv',
      1,
    );
    expect(seen.records).toEqual([{ text: 'naïve,日本', line: 1, fields: 2 }]);
  });

  it('sees nothing in an empty input', () => {
    expect(scan('', 'csv')).toEqual({ records: [], oversized: [] });
  });

  it('treats a quote inside an unquoted field as data, as ClickHouse does', () => {
    expect(scan('ab"c,d\n', 'csv').records).toEqual([{ text: 'ab"c,d', line: 1, fields: 2 }]);
  });

  it('rejects the first line of a runaway quote and resumes on the next line, holding at most maxRecordBytes', () => {
    const good = Array.from({ length: 200 }, (_, i) => `${i},ok`).join('\n');
    const seen = scan(`h1,h2\n1,"never closed\n${good}\n`, 'csv', 7, 64);
    expect(seen.oversized).toHaveLength(1);
    expect(seen.oversized[0]?.text).toBe('1,"never closed');
    expect(seen.oversized[0]?.line).toBe(2);
    expect(seen.oversized[0]?.reason).toMatch(/unterminated quote/);
    expect(seen.records[0]?.text).toBe('h1,h2');
    expect(seen.records).toHaveLength(201);
    expect(seen.records[1]).toEqual({ text: '0,ok', line: 3, fields: 2 });
    expect(seen.records[200]).toEqual({ text: '199,ok', line: 202, fields: 2 });
  });

  it('rejects an unterminated quote at the end of the file', () => {
    const seen = scan('a,b\n1,"open\n', 'csv');
    expect(seen.records.map((r) => r.text)).toEqual(['a,b']);
    expect(seen.oversized).toMatchObject([{ text: '1,"open', line: 2 }]);
  });

  it('rejects an overlong unquoted line, truncated, then goes on', () => {
    const seen = scan(`1,2\n${'x'.repeat(300)}\n3,4\n`, 'csv', 10, 64);
    expect(seen.records.map((r) => r.text)).toEqual(['1,2', '3,4']);
    expect(seen.records[1]?.line).toBe(3);
    expect(seen.oversized).toHaveLength(1);
    expect(seen.oversized[0]?.text.length).toBe(64);
    expect(seen.oversized[0]?.line).toBe(2);
  });

  it('uses the configured delimiter', () => {
    const scanner = new RecordScanner(
      { format: 'csv', delimiter: ';', maxRecordBytes: 100 },
      {
        record: (r) => expect(r.fields).toBe(3),
        oversized: () => expect.fail('no oversized record expected'),
      },
    );
    scanner.push(Buffer.from('a;"b;c";d\n'));
    scanner.end();
  });
});

describe('RecordScanner, TSV and NDJSON', () => {
  it('splits TSV lines and counts tab-separated fields across buffer edges', () => {
    const seen = scan('a\tb\tc\n1\t2\t3\r\nx\\ty\tz\n', 'tsv', 2);
    expect(seen.records).toEqual([
      { text: 'a\tb\tc', line: 1, fields: 3 },
      { text: '1\t2\t3', line: 2, fields: 3 },
      { text: 'x\\ty\tz', line: 3, fields: 2 },
    ]);
  });

  it('splits NDJSON lines', () => {
    const seen = scan('{"a":1}\n{"a":"x\\ny"}\n{"a":3}', 'ndjson', 4);
    expect(seen.records.map((r) => [r.text, r.line])).toEqual([
      ['{"a":1}', 1],
      ['{"a":"x\\ny"}', 2],
      ['{"a":3}', 3],
    ]);
  });

  it('rejects an overlong line and keeps memory bounded', () => {
    const seen = scan(`{"a":1}\n{"a":"${'y'.repeat(5000)}"}\n{"a":2}\n`, 'ndjson', 100, 256);
    expect(seen.records.map((r) => r.text)).toEqual(['{"a":1}', '{"a":2}']);
    expect(seen.records[1]?.line).toBe(3);
    expect(seen.oversized[0]?.text.length).toBe(256);
  });
});
