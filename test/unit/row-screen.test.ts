import { describe, expect, it } from 'vitest';
import type { DataFormat } from '../../functions/core/config/schema.ts';
import { indexChunk } from '../../functions/core/pipeline/chunk-index.ts';
import {
  createRowScreen,
  plainCsvRow,
  screenColumns,
  screenCsvFields,
} from '../../functions/core/pipeline/row-screen.ts';
import type { TableColumn } from '../../functions/core/ports/warehouse.ts';
import { onlyChunk } from '../fixtures/chunks.ts';

const TABLE: TableColumn[] = [
  { name: 'id', type: 'UInt64', defaultKind: '' },
  { name: 'ts', type: "DateTime('UTC')", defaultKind: '' },
  { name: 'note', type: 'String', defaultKind: '' },
  { name: 'amount', type: 'Nullable(Float64)', defaultKind: '' },
];
const COLUMNS = ['id', 'ts', 'note', 'amount'];

function screen(rows: string[], format: DataFormat = 'csv', nullText?: string): Map<number, string> {
  const chunking = { maxBytes: 1 << 20, maxRows: 1000, maxRecordBytes: 1024, insertsInFlight: 2 };
  const delimiter = format === 'tsv' ? '\t' : ',';
  const chunk = onlyChunk(`${rows.join('\n')}\n`, chunking, format);
  const check = createRowScreen(format, delimiter, COLUMNS, TABLE, nullText);
  if (check === undefined) throw new Error('expected a screen');
  return check(chunk, indexChunk(chunk, format, delimiter));
}

describe('createRowScreen', () => {
  it('passes rows whose shape and numbers are plausible, leaving subtler errors to ClickHouse', () => {
    expect(
      screen([
        '1,2026-11-01 10:00:00,"a, ""quoted"" note",1.5',
        '2,2026-11-01,plain,',
        '3,1700000000,x,NULL',
        'x4,2026-13-45 99:99:99,digits anywhere pass,1e5',
      ]),
    ).toEqual(new Map());
  });

  it('leaves to ClickHouse a bare sign, point or exponent, which number parsers read as 0', () => {
    // Measured: 18.16 stores 0 for `-`, `+`, `"-"`, ` -` in Int32, `-`, `.`, `e` in Float64 and Decimal;
    // 26.x for `-`, `+`, `.`, `e` in Decimal.
    const rows = ['-', '+', '"-"', ' -', '.', 'e', 'E', '-.', '"+.e"'].flatMap((value, i) => [
      `${value},2026-11-01 10:00:00,n,1`,
      `${i},2026-11-01 10:00:00,n,${value}`,
    ]);
    expect(screen(rows)).toEqual(new Map());
    expect([...screen(['-x,2026-11-01 10:00:00,n,1', '1,2026-11-01 10:00:00,n,e-x']).keys()]).toEqual([0, 1]);
  });

  it('finds a wrong field count and text without digits in number and date columns', () => {
    const found = screen([
      '1,2026-11-01 10:00:00,ok,1',
      '2,2026-11-01 10:00:00,too,many,fields',
      '3,yesterday,ok,1',
      '4,2026-11-01 10:00:00,ok,n/a',
      '5,2026-11-01 10:00:00,missing amount',
    ]);
    expect([...found.keys()]).toEqual([1, 2, 3, 4]);
    expect(found.get(1)).toBe('expected 4 fields (id, ts, note, amount), found 5');
    expect(found.get(2)).toBe(
      `column ts (DateTime('UTC')) cannot take "yesterday": a number or date needs digits`,
    );
    expect(found.get(3)).toMatch(/column amount \(Nullable\(Float64\)\) cannot take "n\/a"/);
    expect(found.get(4)).toBe('expected 4 fields (id, ts, note, amount), found 3');
  });

  it('reads TSV fields, with \\N as NULL in a Nullable column', () => {
    const found = screen(['1\t2026-11-01\tok\t\\N', '2\tsoon\tok\t1', '3\t2026-11-01\tok'], 'tsv');
    expect([...found.keys()]).toEqual([1, 2]);
  });

  it('reads quoting exactly: quotes open a field only at its start, doubled quotes stay inside, CRLF ends a row', () => {
    const found = screen([
      '"1","2026-11-01","a, ""b"", c","2"',
      '2,"soon",note,3',
      '3,2026-11-01,trailing separator,4,',
      '4,2026-11-01,x"not a quote,5\r',
      '5,2026-11-01,"quoted then text"abc,6',
      '6,"2026-11-01,unterminated',
      '7,"",empty quoted date,8',
      '8,2026-11-01,ok,""',
    ]);
    // One empty field past the last is a trailing delimiter, which ClickHouse takes (measured on 18.16 and chDB).
    expect([...found.keys()]).toEqual([1]);
    expect(found.get(1)).toMatch(/^column ts \(DateTime\('UTC'\)\) cannot take "\\"soon\\"": a number/);
  });

  it('is certain of a field count only where no server could read the row otherwise', () => {
    const found = screen([
      '1,2026-11-01,two trailing,4,,',
      "2,2026-11-01,'single, quoted',5",
      "3,2026-11-01,'single',6,7",
      '4,2026-11-01,one extra,8,x',
      '5,yesterday,trailing but bad date,9,',
      '6,2026-11-01, "blank, then quoted",10',
      '7,2026-11-01,trailing blank,11, ',
      "8,'n/a, no',x,12,",
    ]);
    // Blanks before a quote still open a quoted field, and a blank last field is a trailing delimiter, as
    // ClickHouse reads them; single quotes: servers that read single-quoted CSV fields (18.16 by default) may
    // count and align the row otherwise.
    expect([...found.keys()]).toEqual([0, 3, 4]);
    expect(found.get(0)).toBe('expected 4 fields (id, ts, note, amount), found 6');
    expect(found.get(4)).toMatch(/column ts .* cannot take "yesterday"/);
  });

  it("leaves to ClickHouse the server's own text for NULL", () => {
    const rows = ['1,2026-11-01,a,NA', '2,NA,b,1', '3,2026-11-01,c,"NA"', '4,2026-11-01,d,n/a'];
    expect([...screen(rows, 'csv', 'NA').keys()]).toEqual([3]);
  });

  it('reads TSV escapes as data: an escaped tab is not a separator, an escaped digit is no digit', () => {
    const found = screen(['1\t2026-11-01\ta\\tb\t2', '2\t\\1\tok\t3', '3\t2026-11-01\tok\\\\\t4'], 'tsv');
    expect([...found.keys()]).toEqual([1]);
  });

  it('leaves to ClickHouse the values it accepts without a digit: nan and inf in floats, NULL anywhere', () => {
    const found = screen([
      '1,2026-11-01,a,nan',
      '2,2026-11-01,b,-inf',
      '3,2026-11-01,c,"+Infinity"',
      '4,\\N,d,1',
      '5,NULL,e,1',
      '6,2026-11-01,f,n/a',
    ]);
    expect([...found.keys()]).toEqual([5]);
  });

  it('clears in its one-pass check only rows the field-by-field screen passes too', () => {
    // Rows of every shape the two differ on, from a seeded generator: fields opening with a quote (holding a
    // separator), a single quote, a blank or a tab, empty fields, digit-less numbers, too few or too many
    // fields; for each separator a user may set (a space and a tab among them) and for 1 to 4 columns.
    // (The CR of a CRLF line is taken off before either check, by the screen that calls them.)
    let seed = 7;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const pick = (from: readonly string[]) => from[next(from.length)] as string;
    let plain = 0;
    let flagged = 0;
    for (const separator of [',', ';', '|', '\t', ' ']) {
      const odd = [
        'n/a',
        '"a#b"',
        '"x#1"',
        ' "y#2"',
        '\t"w#4"',
        "'q'",
        "'z#3'",
        ' 7',
        '\t8',
        '',
        '-1',
        '""',
        'NA',
        'x#y',
      ].map((value) => value.replaceAll('#', separator));
      for (let width = 1; width <= COLUMNS.length; width++) {
        const known = screenColumns(COLUMNS.slice(0, width), TABLE, '\\N');
        const usual = (i: number) =>
          known.needsDigits[i] === true ? ['1', '42', '2026-11-01'] : ['text', 'a "b" c', '1'];
        for (let n = 0; n < 2_000; n++) {
          const count = next(4) === 0 ? 1 + next(width + 2) : width;
          const fields = Array.from({ length: count }, (_, i) => pick(next(3) === 0 ? odd : usual(i)));
          const row = Buffer.from(fields.join(separator));
          const code = separator.charCodeAt(0);
          const verdict = screenCsvFields(row, 0, row.length, code, known);
          if (verdict !== undefined) flagged++;
          if (!plainCsvRow(row, 0, row.length, code, known.needsDigits)) continue;
          plain++;
          expect(verdict, JSON.stringify(row.toString())).toBeUndefined();
        }
      }
    }
    // The generator reaches both sides: rows the fast check clears, rows the full screen flags.
    expect(plain).toBeGreaterThan(5_000);
    expect(flagged).toBeGreaterThan(5_000);
    // And, named rather than left to the seed, the rows each of the one-pass check's opening rules exists for:
    // a quoted field holding a separator, after nothing, a blank or a tab, that makes the count come out right.
    const known = screenColumns(COLUMNS, TABLE, '\\N');
    for (const row of ['1,42,"x,1"', '1,42, "y,2"', '1,42,\t"w,4"'].map((text) => Buffer.from(text))) {
      expect(screenCsvFields(row, 0, row.length, 0x2c, known), row.toString()).toMatch(/found 3/);
      expect(plainCsvRow(row, 0, row.length, 0x2c, known.needsDigits), row.toString()).toBe(false);
    }
  });

  it('does nothing for NDJSON (keys, not positions)', () => {
    expect(createRowScreen('ndjson', ',', COLUMNS, TABLE)).toBeUndefined();
  });
});
