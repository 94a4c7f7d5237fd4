import { gzipSync } from 'node:zlib';
import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { S3Event } from 'aws-lambda';
import { describe, expect, inject, it } from 'vitest';
import type { ChuteConfig, RouteInput } from '../../functions/core/config/schema.ts';
import { s3IngestDependencies } from '../../functions/core/pipeline/s3-dependencies.ts';
import { processS3Event } from '../../functions/ingest/process-event.ts';
import { useEngineAndS3 } from '../fixtures/engine-and-s3.ts';
import {
  chdbEngine,
  dependencies,
  type Engine,
  putObject,
  RecordingReporter,
  serverEngine,
  testConfig,
} from '../fixtures/loader.ts';
import { queryRows, uniqueName } from '../fixtures/tables.ts';

const engines: [string, () => Engine][] = [
  ['clickhouse-server 18.16', () => serverEngine(inject('clickhouseUrl'))],
  ['chDB', () => chdbEngine()],
];

describe.each(engines)('ingest through the handler path on %s', (_name, open) => {
  const bucket = 'landing';
  const ctx = useEngineAndS3(open, bucket);

  async function ordersTable(): Promise<string> {
    const table = uniqueName('orders');
    await ctx.engine.client.command({
      query: `CREATE TABLE ${table} (id UInt32, customer String, amount Float64, note String DEFAULT 'none')
              ${ctx.engine.mergeTree('id')}`,
    });
    return table;
  }

  /** Drops `body` at `key`, delivers the real S3 event to the handler path, and returns what it reported. */
  async function drop(route: Partial<RouteInput> & { table: string }, key: string, body: Buffer | string) {
    const config: ChuteConfig = testConfig([{ prefix: 'in/', format: 'csv', ...route }]);
    const event = await putObject(ctx.s3, bucket, key, body);
    return deliver(event, config);
  }

  async function deliver(event: S3Event, config: ChuteConfig) {
    const reporter = new RecordingReporter();
    let error: unknown;
    try {
      await processS3Event(event, config, dependencies(ctx.engine, ctx.s3, config), reporter);
    } catch (caught) {
      error = caught;
    }
    return { reporter, error, summary: reporter.files[0] };
  }

  async function rows(table: string, order = 'id'): Promise<Record<string, unknown>[]> {
    return queryRows(ctx.engine.client, `SELECT * FROM ${table} ORDER BY ${order}`);
  }

  async function rejectsOf(location: string | undefined): Promise<Record<string, unknown>[]> {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location ?? '');
    if (match === null) throw new Error(`no rejects location: ${location}`);
    const object = await ctx.s3.client.send(new GetObjectCommand({ Bucket: match[1], Key: match[2] }));
    const text = (await object.Body?.transformToString()) ?? '';
    return text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  it('loads a CSV whose key has a space and a plus, with quoted delimiters, newlines and quotes', async () => {
    const table = await ordersTable();
    const csv = 'id,customer,amount\n1,"Smith, Jane",10.5\n2,"multi\nline",2\n3,"say ""hi""",3\n';
    const { summary, error } = await drop({ table }, 'in/day one+two.csv', csv);
    expect(error).toBeUndefined();
    expect(summary).toMatchObject({
      status: 'loaded',
      key: 'in/day one+two.csv',
      rowsRead: 3,
      rowsInserted: 3,
    });
    expect(summary?.rowsRejected).toBe(0);
    expect(await rows(table)).toEqual([
      { id: 1, customer: 'Smith, Jane', amount: 10.5, note: 'none' },
      { id: 2, customer: 'multi\nline', amount: 2, note: 'none' },
      { id: 3, customer: 'say "hi"', amount: 3, note: 'none' },
    ]);
  });

  it('handles CRLF, a UTF-8 BOM, non-ASCII text and a missing final newline', async () => {
    const table = await ordersTable();
    const csv = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('id,customer,amount\r\n1,Zoë 日本,1\r\n2,"a\r\nb",2'),
    ]);
    const { summary } = await drop({ table }, 'in/crlf.csv', csv);
    expect(summary).toMatchObject({ status: 'loaded', rowsRead: 2, rowsInserted: 2, rowsRejected: 0 });
    const loaded = await rows(table);
    expect(loaded.map((r) => r.customer)).toEqual(['Zoë 日本', 'a\r\nb']);
  });

  it('loads nothing and fails nothing for an empty file and a header-only file', async () => {
    const table = await ordersTable();
    const empty = await drop({ table }, 'in/empty.csv', '');
    expect(empty.summary).toMatchObject({ status: 'loaded', rowsRead: 0, rowsInserted: 0, rowsRejected: 0 });
    const headerOnly = await drop({ table }, 'in/header-only.csv', 'id,customer,amount\n');
    expect(headerOnly.summary).toMatchObject({ status: 'loaded', rowsRead: 0, rowsInserted: 0 });
    expect(await rows(table)).toEqual([]);
  });

  it('sends bad rows to rejects with line and reason, loads the good ones, and conserves rows', async () => {
    const table = await ordersTable();
    const lines = ['id,customer,amount'];
    for (let i = 1; i <= 2000; i++) {
      if (i === 10) lines.push('10,too,many,fields');
      else if (i === 500) lines.push('500,bad amount,abc');
      else if (i === 1999) lines.push('x1999,bad id,1');
      else lines.push(`${i},c${i},${i}.5`);
    }
    const { summary, error } = await drop({ table }, 'in/bad-rows.csv', `${lines.join('\n')}\n`);
    expect(error).toBeUndefined();
    expect(summary).toMatchObject({ status: 'loaded', rowsRead: 2000, rowsInserted: 1997, rowsRejected: 3 });
    const [count] = await queryRows<{ c: string }>(ctx.engine.client, `SELECT count() AS c FROM ${table}`);
    expect(Number(count?.c)).toBe(1997);
    const rejects = await rejectsOf(summary?.rejectsLocation);
    expect(rejects.map((r) => [r.line, r.row, r.raw])).toEqual([
      [11, 10, '10,too,many,fields'],
      [501, 500, '500,bad amount,abc'],
      [2000, 1999, 'x1999,bad id,1'],
    ]);
    expect(rejects[0]?.reason).toMatch(/expected 3 fields \(id, customer, amount\), found 4/);
    // A number column holding text without a digit is certain to fail: screened without asking ClickHouse.
    expect(rejects[1]?.reason).toMatch(/column amount \(Float64\) cannot take "abc"/);
    // "x1999" has digits: only ClickHouse can tell, and its own reason is kept.
    expect(rejects[2]?.reason).toMatch(/ClickHouse code \d+/);
    expect(rejects[0]?.source).toBe(`s3://${bucket}/in/bad-rows.csv`);
    expect(summary?.rejectsLocation).toMatch(
      /^s3:\/\/landing\/chute-rejects\/in\/bad-rows\.csv@.+\.rejects\.ndjson$/,
    );
  });

  it('fails the file, and the invocation, above the rejected-rows limit', async () => {
    const table = await ordersTable();
    const csv = `id,customer,amount\n${Array.from({ length: 10 }, (_, i) => `${i},c,bad`).join('\n')}\n`;
    const { summary, error } = await drop(
      { table, badRows: { policy: 'reject', maxRejectedRows: 3 } },
      'in/too-many.csv',
      csv,
    );
    expect(summary?.status).toBe('failed');
    expect(summary?.errorCode).toBe('REJECT_LIMIT_EXCEEDED');
    expect(summary?.reason).toMatch(/more than 3 rows rejected/);
    expect(String(error)).toMatch(/1 of 1 file\(s\) failed.*in\/too-many\.csv/);
  });

  it('stops isolating bad rows ClickHouse alone can tell at the limit, instead of two inserts a row', async () => {
    const table = await ordersTable();
    // "1x" has a digit: the screen cannot tell, so every row is ClickHouse's to refuse, one insert at a time.
    const csv = `id,customer,amount\n${Array.from({ length: 300 }, (_, i) => `${i},c,1x`).join('\n')}\n`;
    const { summary } = await drop(
      { table, badRows: { policy: 'reject', maxRejectedRows: 3 } },
      'in/all-subtly-bad.csv',
      csv,
    );
    expect(summary?.status).toBe('failed');
    expect(summary?.errorCode).toBe('REJECT_LIMIT_EXCEEDED');
    expect(summary?.reason).toMatch(
      /more than 3 rows rejected \(4 by chunk 0, from line 2, while its bad rows/,
    );
    expect(summary?.rowsRejected).toBe(0); // the chunk never settled: its rejects are not counted as written
    expect(summary?.inserts).toBe(0);
  });

  it('fails a file whose header names a column the table lacks, before writing any row', async () => {
    const table = await ordersTable();
    const { summary, error } = await drop(
      { table },
      'in/extra.csv',
      'id,customer,amount,colour\n1,a,1,red\n',
    );
    expect(summary?.status).toBe('failed');
    expect(summary?.errorCode).toBe('SCHEMA_MISMATCH');
    expect(summary?.reason).toMatch(/column\(s\) "colour" are not in table/);
    expect(error).toBeDefined();
    expect(await rows(table)).toEqual([]);
  });

  it('fails a file that lacks a column the table needs', async () => {
    const table = await ordersTable();
    const { summary } = await drop({ table }, 'in/missing.csv', 'id,customer\n1,a\n');
    expect(summary?.errorCode).toBe('SCHEMA_MISMATCH');
    expect(summary?.reason).toMatch(/needs column\(s\) "amount" \(no default\)/);
  });

  it('never lets a header reach SQL as code', async () => {
    const table = await ordersTable();
    const { summary } = await drop(
      { table },
      'in/evil.csv',
      `id,customer,"amount\`; DROP TABLE ${table}; --"\n1,a,1\n`,
    );
    expect(summary?.errorCode).toBe('SCHEMA_MISMATCH');
    expect(summary?.reason).toContain('DROP TABLE');
    const [exists] = await queryRows<{ c: string }>(ctx.engine.client, `SELECT count() AS c FROM ${table}`);
    expect(Number(exists?.c)).toBe(0);
  });

  it('loads gzip by magic bytes, TSV, NDJSON, and a headerless CSV with a column list', async () => {
    const table = await ordersTable();
    const gz = gzipSync(Buffer.from('id,customer,amount\n1,gz,1\n'));
    expect((await drop({ table }, 'in/a.csv.gz', gz)).summary).toMatchObject({
      status: 'loaded',
      rowsInserted: 1,
    });
    const tsv = await drop({ table, format: 'tsv' }, 'in/b.tsv', 'id\tcustomer\tamount\n2\ttab\\tbed\t2\n');
    expect(tsv.summary).toMatchObject({ status: 'loaded', rowsInserted: 1 });
    const ndjson = await drop(
      { table, format: 'ndjson', header: undefined },
      'in/c.ndjson',
      '{"id":3,"customer":"json","amount":3}\n{"id":"oops","customer":"x","amount":1}\n',
    );
    expect(ndjson.summary).toMatchObject({ status: 'loaded', rowsRead: 2, rowsInserted: 1, rowsRejected: 1 });
    const headerless = await drop(
      { table, header: false, columns: ['id', 'customer', 'amount'], delimiter: ';' },
      'in/d.csv',
      '4;semi;4\n',
    );
    expect(headerless.summary).toMatchObject({ status: 'loaded', rowsInserted: 1 });
    expect((await rows(table)).map((r) => r.customer)).toEqual(['gz', 'tab\tbed', 'json', 'semi']);
  });

  it.each([
    ['csv', ','],
    ['tsv', '\t'],
  ] as const)(
    'loads a %s row that reads like the header, also where a chunk starts: none is dropped unsaid',
    async (format, sep) => {
      // Current servers skip a first row that reads like the column names unless told not to (detect_header),
      // and every chunk is an insert of its own: a header repeated mid-file (concatenated files) that opened a
      // chunk vanished, neither inserted nor rejected, while the summary counted it inserted. Into String
      // columns such a row is data. Rows of 13 and 19 bytes and 1030-byte chunks make chunks open with one.
      const table = uniqueName('texts');
      await ctx.engine.client.command({
        query: `CREATE TABLE ${table} (id String, customer String, amount String) ${ctx.engine.mergeTree('id')}`,
      });
      const header = ['id', 'customer', 'amount'].join(sep);
      const lines = Array.from({ length: 200 }, (_, i) => [
        [String(10000 + i), 'cust', '1'].join(sep),
        header,
      ]).flat();
      // The premise, by the cut rule (a chunk closes at the first line end past maxBytes of records): some
      // chunk opens with the header-like row.
      let filled = 0;
      const opening = lines.filter((_, i) => {
        const opens = filled === 0;
        filled += Buffer.byteLength(lines[i] ?? '') + 1;
        if (filled >= 1030) filled = 0;
        return opens;
      });
      expect(opening.filter((line) => line === header).length).toBeGreaterThan(1);
      const config = testConfig([{ prefix: 'in/', format, table }], { chunking: { maxBytes: 1030 } });
      const event = await putObject(
        ctx.s3,
        bucket,
        `in/repeated-header.${format}`,
        `${header}\n${lines.join('\n')}\n`,
      );
      const { summary, error } = await deliver(event, config);
      expect(error).toBeUndefined();
      expect(summary).toMatchObject({ status: 'loaded', rowsRead: 400, rowsInserted: 400, rowsRejected: 0 });
      expect(summary?.chunks).toBeGreaterThan(4);
      const [count] = await queryRows<{ c: string }>(
        ctx.engine.client,
        `SELECT count() AS c FROM ${table} WHERE id = 'id'`,
      );
      expect(Number(count?.c)).toBe(200);
    },
  );

  it('reads a quoted CSV field after blanks as ClickHouse does: rows read are the rows ClickHouse stores', async () => {
    // Both engines skip spaces and tabs before a quote, so a line feed inside such a field is data. Cut at it,
    // the file's two rows counted as three (the insert's bytes were the same) or split across two chunks.
    const table = await ordersTable();
    const { summary } = await drop(
      { table },
      'in/blank-quote.csv',
      'id,customer,amount\n1, "multi\nline, with comma" ,1.5\n2,\t"tab, then quote",2\n',
    );
    expect(summary).toMatchObject({ status: 'loaded', rowsRead: 2, rowsInserted: 2, rowsRejected: 0 });
    expect((await rows(table)).map((r) => r.customer)).toEqual([
      'multi\nline, with comma',
      'tab, then quote',
    ]);
  });

  it("reads single quotes in CSV as data on every server, as chute's scanner does", async () => {
    // 18.16 reads single-quoted fields unless told not to: a line feed inside one made one stored row of two
    // counted ones. Turned off, `'a,b'` is two fields everywhere (the row is rejected) and `'q'` is text.
    const table = await ordersTable();
    const { summary } = await drop(
      { table },
      'in/single-quotes.csv',
      "id,customer,amount\n1,'quoted',1\n2,'a,b',2\n3,'line\nbreak',3\n",
    );
    // The line feed ends a record, as it does for chute: `3,'line` and `break',3` are two short rows.
    expect(summary).toMatchObject({ status: 'loaded', rowsRead: 4, rowsInserted: 1, rowsRejected: 3 });
    expect((await rows(table)).map((r) => r.customer)).toEqual(["'quoted'"]);
  });

  it('keeps a TSV line feed escaped by a backslash in its value: rows read are the rows ClickHouse stores', async () => {
    const table = await ordersTable();
    const { summary } = await drop(
      { table, format: 'tsv' },
      'in/escaped.tsv',
      'id\tcustomer\tamount\n5\tline\\\nbreak\t5\n6\tnext\t6\n',
    );
    expect(summary).toMatchObject({ status: 'loaded', rowsRead: 2, rowsInserted: 2, rowsRejected: 0 });
    expect((await rows(table)).map((r) => r.customer)).toEqual(['line\nbreak', 'next']);
  });

  it('skips an object deleted before its event is handled, and keys no route takes', async () => {
    const table = await ordersTable();
    const config = testConfig([{ prefix: 'in/', format: 'csv', table }]);
    const event = await putObject(ctx.s3, bucket, 'in/gone.csv', 'id,customer,amount\n1,a,1\n');
    await ctx.s3.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'in/gone.csv' }));
    const gone = await deliver(event, config);
    expect(gone.error).toBeUndefined();
    expect(gone.summary).toMatchObject({ status: 'skipped', skipCode: 'VERSION_GONE' });
    expect(gone.summary?.reason).toMatch(/no longer exists/);

    const elsewhere = await deliver(await putObject(ctx.s3, bucket, 'other/x.csv', 'a\n1\n'), config);
    expect(elsewhere.error).toBeUndefined();
    expect(elsewhere.reporter.skipped).toEqual([
      { bucket, key: 'other/x.csv', why: 'no route matches the key' },
    ]);
    expect(await rows(table)).toEqual([]);
  });

  it('handles every record of an event that holds several', async () => {
    const table = await ordersTable();
    const config = testConfig([{ prefix: 'in/', format: 'csv', table }]);
    const first = await putObject(ctx.s3, bucket, 'in/multi-1.csv', 'id,customer,amount\n1,a,1\n');
    const second = await putObject(ctx.s3, bucket, 'in/multi-2.csv', 'id,customer,amount\n2,b,2\n3,c,3\n');
    const both: S3Event = { Records: [...first.Records, ...second.Records] };
    const { reporter, error } = await deliver(both, config);
    expect(error).toBeUndefined();
    expect(reporter.files.map((f) => [f.key, f.rowsInserted])).toEqual([
      ['in/multi-1.csv', 1],
      ['in/multi-2.csv', 2],
    ]);
    expect((await rows(table)).map((r) => r.id)).toEqual([1, 2, 3]);
  });

  it('rejects the line of an unterminated quote near the start of a large file and loads the rest', async () => {
    const table = await ordersTable();
    const rowsAfter = 100_000;
    const body = [`id,customer,amount\n1,"never closed,1\n`];
    for (let i = 2; i <= rowsAfter + 1; i++) body.push(`${i},customer ${i},${i}\n`);
    const { summary } = await drop({ table }, 'in/runaway.csv', Buffer.from(body.join('')));
    expect(summary).toMatchObject({
      status: 'loaded',
      rowsRead: rowsAfter + 1,
      rowsInserted: rowsAfter,
      rowsRejected: 1,
    });
    const rejects = await rejectsOf(summary?.rejectsLocation);
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toMatchObject({ line: 2, raw: '1,"never closed,1' });
    expect(String(rejects[0]?.reason)).toMatch(/a quote never closed/);
  });
});

describe('credentials ClickHouse refuses (clickhouse-server 18.16)', () => {
  const bucket = 'landing';
  const ctx = useEngineAndS3(() => serverEngine(inject('clickhouseUrl')), bucket);

  it('fails the file and the invocation with CLICKHOUSE_AUTH, the code that makes the handler read the secret again', async () => {
    const config = testConfig([{ prefix: 'in/', format: 'csv', table: 'orders' }]);
    const refused = createClient({
      url: inject('clickhouseUrl'),
      username: 'rotated_away',
      password: 'old',
      log: { level: ClickHouseLogLevel.OFF },
    });
    try {
      const event = await putObject(ctx.s3, bucket, 'in/a.csv', 'id\n1\n');
      const reporter = new RecordingReporter();
      const deps = s3IngestDependencies(ctx.s3.client, refused, config, 'default');
      const error = await processS3Event(event, config, deps, reporter).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(reporter.files[0]).toMatchObject({ status: 'failed', errorCode: 'CLICKHOUSE_AUTH' });
      expect(error).toMatchObject({ code: 'CLICKHOUSE_AUTH' });
    } finally {
      await refused.close();
    }
  });
});
