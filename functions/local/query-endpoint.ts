import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { ClickHouseClient } from '@clickhouse/client';

/**
 * `curl 'http://127.0.0.1:PORT/?query=SELECT ...'` answers with TabSeparated text, like ClickHouse's own HTTP
 * interface, so rows loaded into the embedded engine can be seen from another terminal. Loopback only, and read
 * only: one statement that reads (`SELECT`, `WITH`, `SHOW`, `DESCRIBE`, `EXISTS`, `EXPLAIN`), and no request a
 * browser sends for another site, so that a web page open meanwhile cannot drop the user's tables through it.
 */
export async function startQueryEndpoint(client: ClickHouseClient, port: number): Promise<Server> {
  const server = createServer(async (request, response) => {
    const refuse = (status: number, why: string) => {
      response.writeHead(status, { 'content-type': 'text/plain' });
      response.end(`${why}\n`);
    };
    if (fromABrowserElsewhere(request.headers))
      return refuse(403, 'only requests from this machine (curl) are answered');
    const query = new URL(request.url ?? '/', 'http://localhost').searchParams.get('query');
    if (!query) return refuse(400, 'add ?query=SELECT ...');
    const why = whyNotReadOnly(query);
    if (why !== undefined) return refuse(400, why);
    try {
      const result = await client.query({ query, format: 'TabSeparatedWithNames' });
      response.writeHead(200, { 'content-type': 'text/tab-separated-values; charset=utf-8' });
      response.end(await result.text());
    } catch (error) {
      refuse(500, error instanceof Error ? error.message : String(error));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

/** A browser says where a request comes from; curl says nothing of the kind. */
function fromABrowserElsewhere(headers: IncomingHttpHeaders): boolean {
  const site = headers['sec-fetch-site'];
  return headers.origin !== undefined || (site !== undefined && site !== 'none' && site !== 'same-origin');
}

const READS = /^(select|with|show|describe|desc|exists|explain)\b/i;

/** Why the query may not run here, if it may not: it must be one statement that only reads. */
export function whyNotReadOnly(query: string): string | undefined {
  const statement = query.trim().replace(/;\s*$/, '');
  // Looked for in the text as sent, comments and quotes included: a `;` anywhere may start a second statement.
  if (statement.includes(';')) return 'one statement at a time';
  const start = statement.replace(/^(\s+|--[^\n]*|\/\*[\s\S]*?\*\/)+/, '');
  if (!READS.test(start)) {
    return 'only queries that read (SELECT, SHOW, DESCRIBE, EXISTS, EXPLAIN) are answered here';
  }
  if (/\binto\s+outfile\b/i.test(statement)) return 'INTO OUTFILE is not answered here';
  return undefined;
}
