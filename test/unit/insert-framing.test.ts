import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouseClient } from '../../functions/core/clickhouse/client.ts';
import { ClickHouseLedger } from '../../functions/core/clickhouse/ledger.ts';
import { ClickHouseWarehouse } from '../../functions/core/clickhouse/warehouse.ts';
import { parseConfig } from '../../functions/core/config/parse.ts';

interface Seen {
  query: string;
  /** The request's URL parameters but `query`: where request settings travel. */
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * How an insert is framed on the wire decides what a server does when the body is cut off (the process dies,
 * the connection drops). A chunked body that ends without its closing chunk was refused by 22.3 (ClickHouse
 * issue #27667, with parallel parsing off), while a body framed by Content-Length that ends early was still
 * committed in part there, and 18.16 commits either (measured: see the README's Guarantees). A later change that
 * buffers a body into one Content-Length request would give up the protection chunked framing gets from
 * current servers, so the framing of every insert chute
 * sends, data and load history alike, is pinned here, against a listener that only records what arrives
 * (this is about chute's client, not about any server): every request is answered 200 with an empty body, but
 * the ledger's look at `system.tables`, answered as if its views existed.
 */
describe('the framing of an insert', () => {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const pieces: Buffer[] = [];
    request.on('data', (piece: Buffer) => pieces.push(piece));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://listener');
      seen.push({
        query: url.searchParams.get('query') ?? '',
        params: Object.fromEntries([...url.searchParams].filter(([name]) => name !== 'query')),
        headers: request.headers,
        body: Buffer.concat(pieces).toString('utf8'),
      });
      const body = Buffer.concat(pieces).toString('utf8');
      // The ledger looks for its views before its first write: they are there.
      const views = body.includes('FROM system.tables')
        ? ['history', 'history_chunks'].map((name) => `{"name":"${name}","engine":"View"}\n`).join('')
        : '';
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end(views);
    });
  });
  let client: ClickHouseClient | undefined;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    seen.length = 0;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function connect(): ClickHouseClient {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = parseConfig({
      clickhouse: { url },
      routes: [{ prefix: 'in/', table: 't', format: 'csv' }],
    });
    client = createClickHouseClient(config.clickhouse);
    return client;
  }

  function expectChunked(request: Seen | undefined): void {
    expect(request).toBeDefined();
    expect(request?.headers['transfer-encoding']).toBe('chunked');
    expect(request?.headers['content-length']).toBeUndefined();
  }

  it('sends a chunk as a chunked body without Content-Length, so that a cut-off body is never a complete one', async () => {
    await new ClickHouseWarehouse(connect()).insertRaw({
      table: { database: 'db', table: 't' },
      columns: ['id', 'name'],
      format: 'CSV',
      body: [Buffer.from('1,a\n'), Buffer.from('2,b\n')],
      settings: { input_format_allow_errors_num: 0 },
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.query).toBe('INSERT INTO `db`.`t` (`id`, `name`) FORMAT CSV');
    expect(seen[0]?.body).toBe('1,a\n2,b\n');
    expectChunked(seen[0]);
  });

  it('sends the settings as request parameters by default, and in the SETTINGS clause when asked (chDB)', async () => {
    const insert = {
      table: { database: 'db', table: 't' },
      columns: ['id', 'name'],
      format: 'CSV' as const,
      body: [Buffer.from('1;a\n')],
      settings: { format_csv_delimiter: ';', insert_deduplication_token: 'v:c:0:whole' },
    };
    await new ClickHouseWarehouse(connect()).insertRaw(insert);
    await new ClickHouseWarehouse(connect(), { settingsInQuery: true }).insertRaw(insert);
    expect(seen).toHaveLength(2);
    expect(seen[0]?.query).toBe('INSERT INTO `db`.`t` (`id`, `name`) FORMAT CSV');
    expect(seen[0]?.params).toMatchObject(insert.settings);
    expect(seen[1]?.query).toBe(
      "INSERT INTO `db`.`t` (`id`, `name`) SETTINGS format_csv_delimiter = ';', insert_deduplication_token = 'v:c:0:whole' FORMAT CSV",
    );
    expect(seen[1]?.params).not.toHaveProperty('format_csv_delimiter');
    expect(seen[1]?.params).not.toHaveProperty('insert_deduplication_token');
    expect(seen[1]?.body).toBe('1;a\n');
    expectChunked(seen[1]);
  });

  it('sends the load-history rows (a chunk record, a file record) the same way', async () => {
    const ledger = new ClickHouseLedger(connect(), { database: 'db', table: 'history' }, async () => false);
    const version = { bucket: 'b', key: 'in/x.csv', version: 'v1' };
    await ledger.recordChunk(version, { chunk: 0, rowsInserted: 2, rejected: [], cut: 'c' });
    await ledger.record({
      ...version,
      size: 8,
      route: 'in/',
      table: 'db.t',
      status: 'loaded',
      rowsInserted: 2,
      rowsRejected: 0,
      rejectsLocation: '',
      attempt: 1,
      started: new Date(0),
      finished: new Date(0),
      error: '',
      delivery: 'at-least-once',
    });
    const inserts = seen.filter((request) => request.query.startsWith('INSERT INTO'));
    expect(inserts.map((request) => request.query)).toEqual([
      'INSERT INTO `db`.`history_log` FORMAT JSONEachRow',
      'INSERT INTO `db`.`history_log` FORMAT JSONEachRow',
    ]);
    for (const request of inserts) expectChunked(request);
    const rows = inserts.map((request) => JSON.parse(request.body) as { key: string; record: string });
    expect(rows[0]?.key).toBe('in/x.csv');
    expect(JSON.parse(rows[0]?.record ?? '{}')).toMatchObject({ kind: 'chunk', chunk: 0, rows_inserted: 2 });
    expect(JSON.parse(rows[1]?.record ?? '{}')).toMatchObject({ kind: 'attempt', status: 'loaded' });
  });
});
