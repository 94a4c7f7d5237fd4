import { describe, expect, it } from 'vitest';
import type { DataFormat } from '../../functions/core/config/schema.ts';
import { ChuteError } from '../../functions/core/errors.ts';
import { parseHeader } from '../../functions/core/format/header.ts';

const WHERE = 's3://landing/in/file.csv';

function header(text: string | Buffer, format: DataFormat = 'csv', delimiter = ','): string[] {
  return parseHeader(typeof text === 'string' ? Buffer.from(text) : text, format, delimiter, WHERE);
}

function headerError(text: string | Buffer, format: DataFormat = 'csv', delimiter = ','): ChuteError {
  try {
    header(text, format, delimiter);
  } catch (error) {
    if (error instanceof ChuteError) return error;
    throw new Error(`expected a ChuteError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a ChuteError, nothing was thrown');
}

describe('parseHeader, CSV', () => {
  it('splits plain names', () => {
    expect(header('id,name,created_at')).toEqual(['id', 'name', 'created_at']);
  });

  it('reads quoted names, with the delimiter and doubled quotes inside', () => {
    expect(header('"id","last, first","say ""hi"""')).toEqual(['id', 'last, first', 'say "hi"']);
  });

  it('uses a custom delimiter', () => {
    expect(header('a;b;"c;d"', 'csv', ';')).toEqual(['a', 'b', 'c;d']);
    expect(header('a,b;c', 'csv', ';')).toEqual(['a,b', 'c']);
    expect(header('a|b', 'csv', '|')).toEqual(['a', 'b']);
  });

  it('trims the names', () => {
    expect(header(' id ,  name\t,x')).toEqual(['id', 'name', 'x']);
    expect(header('"  padded  ",b')).toEqual(['padded', 'b']);
  });

  it('drops a byte order mark', () => {
    expect(header(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id,name')]))).toEqual([
      'id',
      'name',
    ]);
  });

  it('keeps UTF-8 names', () => {
    expect(header('prénom,名前')).toEqual(['prénom', '名前']);
  });

  it('refuses a header that is not valid CSV, naming line 1', () => {
    const error = headerError('a,"unterminated');
    expect(error.code).toBe('HEADER_INVALID');
    expect(error.message).toContain(`${WHERE}, line 1: the header is not valid CSV`);
  });

  it('refuses an empty header line', () => {
    const error = headerError('');
    expect(error.code).toBe('HEADER_INVALID');
    expect(error.message).toContain(`${WHERE}, line 1`);
  });
});

describe('parseHeader, TSV', () => {
  it('splits on tabs and keeps commas and quotes as data', () => {
    expect(header('id\tlast, first\t"q"', 'tsv')).toEqual(['id', 'last, first', '"q"']);
  });

  it('unescapes backslash sequences', () => {
    expect(header('a\\\\b\tc\\,d', 'tsv')).toEqual(['a\\b', 'c,d']);
  });

  it('does not split on an escaped tab, and then refuses the tab as a control character', () => {
    const error = headerError('id\tweird\\tname', 'tsv');
    expect(error.code).toBe('HEADER_INVALID');
    expect(error.message).toContain(`${WHERE}, line 1, header field 2: column name "weird\\tname"`);
    expect(error.message).toContain('control characters');
  });

  it('ignores the CSV delimiter argument', () => {
    expect(header('a,b\tc', 'tsv', ',')).toEqual(['a,b', 'c']);
  });

  it('refuses an empty header line as an empty name', () => {
    const error = headerError('', 'tsv');
    expect(error.code).toBe('HEADER_INVALID');
    expect(error.message).toContain('line 1, header field 1: empty column name');
  });
});

describe('parseHeader refusals name line 1 and the field', () => {
  it.each<[string, string, DataFormat, string]>([
    ['an empty name', 'a,,c', 'csv', 'header field 2: empty column name'],
    ['a blank name', 'a,b,   ', 'csv', 'header field 3: empty column name'],
    ['a trailing delimiter', 'a,b,', 'csv', 'header field 3: empty column name'],
    ['an empty TSV name', 'a\t\tc', 'tsv', 'header field 2: empty column name'],
    ['a duplicate name', 'id,name,id', 'csv', 'header field 3: column "id" appears twice'],
    ['a duplicate after trimming', 'id, id', 'csv', 'header field 2: column "id" appears twice'],
    ['a duplicate TSV name', 'x\ty\tx', 'tsv', 'header field 3: column "x" appears twice'],
    ['a line break in a quoted name', 'a,"b\nc"', 'csv', 'header field 2: column name "b\\nc" holds control'],
    ['a NUL byte', 'a,b\u0000', 'csv', 'header field 2: column name "b\\u0000" holds control'],
    ['a DEL byte', 'a\u007fz,b', 'csv', 'header field 1: column name "a\u007fz" holds control'],
    ['an escaped TSV line feed', 'a\tb\\nc', 'tsv', 'header field 2: column name "b\\nc" holds control'],
  ])('refuses %s', (_, text, format, message) => {
    const error = headerError(text, format);
    expect(error.code).toBe('HEADER_INVALID');
    expect(error.message).toContain(`${WHERE}, line 1, ${message}`);
  });

  it('accepts a 256-character name and refuses a 257-character one', () => {
    const ok = 'n'.repeat(256);
    expect(header(`a,${ok}`)).toEqual(['a', ok]);
    const error = headerError(`a,b,${'n'.repeat(257)}`);
    expect(error.code).toBe('HEADER_INVALID');
    expect(error.message).toBe(`${WHERE}, line 1, header field 3: column name longer than 256 characters`);
  });

  it('counts length after trimming', () => {
    const name = 'n'.repeat(256);
    expect(header(`  ${name}  `)).toEqual([name]);
  });
});
