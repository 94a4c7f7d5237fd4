/**
 * What the bench's child processes (the ceiling, the no-loader pipe, the bounds) share: their input, read as
 * JSON from stdin, and one raw insert POSTed to ClickHouse's HTTP interface.
 */
import { type Agent, type ClientRequest, request } from 'node:http';

export async function readJsonInput<T>(): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
}

/**
 * POSTs one insert to `target` (a URL carrying `?query=INSERT ...`): `send` writes the body and ends the
 * request. Resolves once ClickHouse answers 200 and the body is sent; rejects with the status and the start of
 * ClickHouse's message otherwise.
 */
export async function rawInsert(
  target: URL,
  agent: Agent,
  send: (insert: ClientRequest) => Promise<void> | void,
  headers: Record<string, string> = {},
): Promise<void> {
  const insert = request(target, { method: 'POST', agent, headers });
  const answered = new Promise<void>((resolve, reject) => {
    insert.on('error', reject);
    insert.on('response', (response) => {
      const body: Buffer[] = [];
      response.on('data', (data: Buffer) => body.push(data));
      response.on('error', reject);
      response.on('end', () => {
        if (response.statusCode === 200) resolve();
        else
          reject(
            new Error(`HTTP ${response.statusCode}: ${Buffer.concat(body).toString('utf8').slice(0, 500)}`),
          );
      });
    });
  });
  await Promise.all([send(insert), answered]);
}
