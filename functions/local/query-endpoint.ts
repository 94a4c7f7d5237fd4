import { createServer, type Server } from 'node:http';
import type { ClickHouseClient } from '@clickhouse/client';

/**
 * `curl 'http://127.0.0.1:PORT/?query=SELECT ...'` answers with TabSeparated text, like ClickHouse's own HTTP
 * interface, so rows loaded into the embedded engine can be seen from another terminal. Loopback only.
 */
export async function startQueryEndpoint(client: ClickHouseClient, port: number): Promise<Server> {
  const server = createServer(async (request, response) => {
    const query = new URL(request.url ?? '/', 'http://localhost').searchParams.get('query');
    if (!query) {
      response.writeHead(400, { 'content-type': 'text/plain' });
      response.end('add ?query=SELECT ...\n');
      return;
    }
    try {
      const result = await client.query({ query, format: 'TabSeparatedWithNames' });
      response.writeHead(200, { 'content-type': 'text/tab-separated-values; charset=utf-8' });
      response.end(await result.text());
    } catch (error) {
      response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(`${error instanceof Error ? error.message : String(error)}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}
