import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouseClient } from '../../functions/core/clickhouse/client.ts';
import { ClickHouseWarehouse } from '../../functions/core/clickhouse/warehouse.ts';
import { parseConfig } from '../../functions/core/config/parse.ts';

/**
 * How an insert is framed on the wire decides what a server does when the sender dies mid-body. Servers since
 * about 22.3 refuse to commit a chunked body that ends without its final zero-length chunk; a body framed by
 * Content-Length that ends early was still committed in part there (ClickHouse issue #27667), and 18.16
 * commits either (measured: see the README's Guarantees). A later change that buffers the body into one
 * Content-Length request would reopen that hole on current servers, so the framing is pinned here, against a
 * listener that only records what arrives (this is about chute's client, not about any server).
 */
describe('the framing of an insert', () => {
  const seen: { method?: string; url?: string; headers?: IncomingHttpHeaders; body?: string } = {};
  const server = createServer((request, response) => {
    const pieces: Buffer[] = [];
    request.on('data', (piece: Buffer) => pieces.push(piece));
    request.on('end', () => {
      seen.method = request.method;
      seen.url = request.url;
      seen.headers = request.headers;
      seen.body = Buffer.concat(pieces).toString('utf8');
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end();
    });
  });
  let url = '';

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends the chunk as a chunked body without Content-Length, so that a cut-off body is never a complete one', async () => {
    const config = parseConfig({
      clickhouse: { url },
      routes: [{ prefix: 'in/', table: 't', format: 'csv' }],
    });
    const client = createClickHouseClient(config.clickhouse);
    try {
      await new ClickHouseWarehouse(client).insertRaw({
        table: { database: 'db', table: 't' },
        columns: ['id', 'name'],
        format: 'CSV',
        body: [Buffer.from('1,a\n'), Buffer.from('2,b\n')],
        settings: { input_format_allow_errors_num: 0 },
      });
    } finally {
      await client.close();
    }
    expect(seen.method).toBe('POST');
    expect(new URL(seen.url ?? '', url).searchParams.get('query')).toBe(
      'INSERT INTO `db`.`t` (`id`, `name`) FORMAT CSV',
    );
    expect(seen.headers?.['transfer-encoding']).toBe('chunked');
    expect(seen.headers?.['content-length']).toBeUndefined();
    expect(seen.body).toBe('1,a\n2,b\n');
  });
});
