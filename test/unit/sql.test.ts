import { describe, expect, it } from 'vitest';
import { resolveConnection } from '../../functions/core/clickhouse/client.ts';
import { clickHouseErrorCode } from '../../functions/core/clickhouse/error-code.ts';
import {
  parseTableName,
  quoteIdentifier,
  quoteString,
  quoteTable,
  settingsClause,
  tableLabel,
} from '../../functions/core/clickhouse/sql.ts';
import { ClickHouseSchema } from '../../functions/core/config/schema.ts';

describe('quoteIdentifier', () => {
  it.each([
    ['id', '`id`'],
    ['', '``'],
    ['with space', '`with space`'],
    ['a`b', '`a\\`b`'],
    ['a\\b', '`a\\\\b`'],
    ['a\\`b', '`a\\\\\\`b`'],
    ['trailing\\', '`trailing\\\\`'],
    ["it's", "`it's`"],
    ['a`; DROP TABLE x', '`a\\`; DROP TABLE x`'],
  ])('%j → %s', (name, quoted) => {
    expect(quoteIdentifier(name)).toBe(quoted);
  });

  it('always yields one identifier: no unescaped backquote inside, and decoding gives the name back', () => {
    for (const name of ['a`; DROP TABLE x', '\\`', '``', 'x\\', '`\\`\\\\`', 'plain']) {
      const quoted = quoteIdentifier(name);
      expect(quoted.startsWith('`') && quoted.endsWith('`')).toBe(true);
      const inner = quoted.slice(1, -1);
      // Walk the escapes as ClickHouse's lexer does: a backquote may only appear after a backslash.
      let decoded = '';
      for (let i = 0; i < inner.length; i++) {
        const c = inner[i];
        expect(c).not.toBe('`');
        if (c === '\\') {
          i++;
          expect(i).toBeLessThan(inner.length);
          decoded += inner[i];
        } else {
          decoded += c;
        }
      }
      expect(decoded).toBe(name);
    }
  });
});

describe('table names', () => {
  it('uses the default database for an unqualified name', () => {
    expect(parseTableName('events', 'analytics')).toEqual({ database: 'analytics', table: 'events' });
  });

  it('splits a qualified name at the dot', () => {
    expect(parseTableName('raw.events', 'analytics')).toEqual({ database: 'raw', table: 'events' });
  });

  it('quotes both parts and labels them plainly', () => {
    const ref = parseTableName('raw.events', 'default');
    expect(quoteTable(ref)).toBe('`raw`.`events`');
    expect(tableLabel(ref)).toBe('raw.events');
    expect(quoteTable({ database: 'd`b', table: 't\\' })).toBe('`d\\`b`.`t\\\\`');
  });
});

describe('quoteString', () => {
  it.each([
    ['', "''"],
    ['plain', "'plain'"],
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ["\\'", "'\\\\\\''"],
    ["x'; DROP TABLE y; --", "'x\\'; DROP TABLE y; --'"],
  ])('%j → %s', (value, quoted) => {
    expect(quoteString(value)).toBe(quoted);
  });
});

describe('settingsClause', () => {
  it('writes numbers bare and strings as literals, in the given order', () => {
    expect(
      settingsClause({
        input_format_allow_errors_num: 0,
        format_csv_delimiter: "'",
        insert_deduplication_token: 'a:b\\c',
      }),
    ).toBe(
      "input_format_allow_errors_num = 0, format_csv_delimiter = '\\'', insert_deduplication_token = 'a:b\\\\c'",
    );
  });

  it('refuses a name that is not an identifier instead of writing it into the query', () => {
    expect(() => settingsClause({ 'x = 1 FORMAT CSV': 1 })).toThrow(/not a setting name/);
    expect(() => settingsClause({ '1abc': 1 })).toThrow(/not a setting name/);
  });
});

describe('clickHouseErrorCode', () => {
  it('reads an old server’s "Code: N, e.displayText()" message', () => {
    const error = new Error(
      'Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected , before: x: (at row 3)',
    );
    expect(clickHouseErrorCode(error)).toBe('27');
  });

  it('reads a new server’s "Code: N. DB::Exception" message', () => {
    const error = new Error('Code: 62. DB::Exception: Syntax error: failed at position 1. (SYNTAX_ERROR)');
    expect(clickHouseErrorCode(error)).toBe('62');
  });

  it('finds the code after other text, but not inside a longer word', () => {
    expect(clickHouseErrorCode(new Error('HTTP 500: Code: 241. DB::Exception: Memory limit'))).toBe('241');
    expect(clickHouseErrorCode(new Error('ErrorCode: 5, something'))).toBeUndefined();
    expect(clickHouseErrorCode(new Error('Code: 27 without punctuation'))).toBeUndefined();
  });

  it('prefers a numeric string code property', () => {
    const error = Object.assign(new Error('Code: 1. something'), { code: '81' });
    expect(clickHouseErrorCode(error)).toBe('81');
  });

  it('falls back to the message when the code property is not a numeric string', () => {
    expect(clickHouseErrorCode(Object.assign(new Error('Code: 60. DB::Exception'), { code: 60 }))).toBe('60');
    expect(clickHouseErrorCode(Object.assign(new Error('connect failed'), { code: 'ECONNREFUSED' }))).toBe(
      undefined,
    );
    expect(clickHouseErrorCode(Object.assign(new Error('Code: 3. x'), { code: '12a' }))).toBe('3');
  });

  it('returns undefined for errors without a code and for non-errors', () => {
    expect(clickHouseErrorCode(new Error('socket hang up'))).toBeUndefined();
    expect(clickHouseErrorCode('Code: 27, e.displayText() = x')).toBeUndefined();
    expect(clickHouseErrorCode({ code: '27', message: 'Code: 27, x' })).toBeUndefined();
    expect(clickHouseErrorCode(undefined)).toBeUndefined();
    expect(clickHouseErrorCode(null)).toBeUndefined();
    expect(clickHouseErrorCode(27)).toBeUndefined();
  });
});

describe('resolveConnection', () => {
  const config = (fields: Record<string, unknown>) => ClickHouseSchema.parse(fields);

  it('defaults to user default, no password and database default', () => {
    expect(resolveConnection(config({ url: 'http://127.0.0.1:8123' }))).toEqual({
      url: 'http://127.0.0.1:8123',
      username: 'default',
      password: '',
      database: 'default',
    });
  });

  it('takes credentials and database from the URL and strips them from it', () => {
    expect(
      resolveConnection(config({ url: 'https://alice:s%40cr%3At@ch.example.com:8443/analytics' })),
    ).toEqual({
      url: 'https://ch.example.com:8443',
      username: 'alice',
      password: 's@cr:t',
      database: 'analytics',
    });
  });

  it('takes a user without a password from the URL', () => {
    expect(resolveConnection(config({ url: 'http://bob@ch:8123/' }))).toEqual({
      url: 'http://ch:8123',
      username: 'bob',
      password: '',
      database: 'default',
    });
  });

  it('ignores slashes around the database in the path', () => {
    expect(resolveConnection(config({ url: 'http://ch:8123//raw//' })).database).toBe('raw');
  });

  it('lets explicit fields win over the URL', () => {
    expect(
      resolveConnection(
        config({
          url: 'http://alice:secret@ch:8123/analytics',
          username: 'carol',
          password: 'other',
          database: 'raw',
        }),
      ),
    ).toEqual({ url: 'http://ch:8123', username: 'carol', password: 'other', database: 'raw' });
  });

  it('lets an explicit empty password win over the URL’s', () => {
    expect(resolveConnection(config({ url: 'http://alice:secret@ch:8123', password: '' })).password).toBe('');
  });
});
