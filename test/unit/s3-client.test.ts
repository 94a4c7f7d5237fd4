import { createServer, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createS3Client, type S3ClientOptions } from '../../functions/core/adapters/s3-client.ts';

const LOCAL = 'http://127.0.0.1:1';

/** The checksum mode the client resolves to: the SDK keeps it as a provider. */
async function responseValidation(options: S3ClientOptions): Promise<string> {
  const client = createS3Client({ region: 'us-east-1', ...options });
  try {
    return await client.config.responseChecksumValidation();
  } finally {
    client.destroy();
  }
}

/**
 * What `verifyChecksums` resolves to. Unset against AWS it is the SDK's default, which the environment and
 * the shared config file can change: the tests pin both away, except where they test that.
 */
describe('createS3Client: response checksum validation', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });
  function sdkDefaultsOnly() {
    vi.stubEnv('AWS_RESPONSE_CHECKSUM_VALIDATION', undefined);
    // A path that cannot exist: no shared config file is read.
    vi.stubEnv('AWS_CONFIG_FILE', join('/nonexistent', 'chute-no-aws-config'));
  }

  it.each([
    ['AWS, unset: the SDK default, verified', {}, 'WHEN_SUPPORTED'],
    ['AWS, verifyChecksums false: not verified', { verifyChecksums: false }, 'WHEN_REQUIRED'],
    ['a custom endpoint, unset: not verified', { endpoint: LOCAL }, 'WHEN_REQUIRED'],
    [
      'a custom endpoint, verifyChecksums true: verified',
      { endpoint: LOCAL, verifyChecksums: true },
      'WHEN_SUPPORTED',
    ],
  ] as const)('%s', async (_, options, expected) => {
    sdkDefaultsOnly();
    expect(await responseValidation(options)).toBe(expected);
  });

  it('leaves AWS_RESPONSE_CHECKSUM_VALIDATION to decide when unset, and overrides it when set', async () => {
    sdkDefaultsOnly();
    vi.stubEnv('AWS_RESPONSE_CHECKSUM_VALIDATION', 'WHEN_REQUIRED');
    expect(await responseValidation({})).toBe('WHEN_REQUIRED');
    expect(await responseValidation({ verifyChecksums: true })).toBe('WHEN_SUPPORTED');
  });

  it('keeps uploads without flexible checksums against a custom endpoint, whatever verifyChecksums says', async () => {
    const client = createS3Client({ endpoint: LOCAL, verifyChecksums: true });
    try {
      expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    } finally {
      client.destroy();
    }
  });
});

/**
 * What a GetObject asks for on the wire, against a listener that records each request and answers with a
 * small body, plus a CRC32 header when a test sets one (as S3 does when asked for the checksum).
 */
describe('a GetObject request', () => {
  const BODY = 'id\n1\n';
  const seen: IncomingHttpHeaders[] = [];
  let checksumHeader: string | undefined;
  const server = createServer((request, response) => {
    seen.push(request.headers);
    request.resume();
    request.on('end', () => {
      response
        .writeHead(200, {
          'Content-Type': 'text/plain',
          'Content-Length': String(Buffer.byteLength(BODY)),
          ...(checksumHeader === undefined ? {} : { 'x-amz-checksum-crc32': checksumHeader }),
        })
        .end(BODY);
    });
  });
  let endpoint = '';
  const clients: S3Client[] = [];

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    seen.length = 0;
    checksumHeader = undefined;
    for (const client of clients.splice(0)) client.destroy();
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function get(verifyChecksums: boolean | undefined): Promise<string> {
    const client = createS3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      verifyChecksums,
    });
    clients.push(client);
    const response = await client.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'in/a.csv' }));
    return (await response.Body?.transformToString()) ?? '';
  }

  it('asks for the stored checksum (x-amz-checksum-mode: ENABLED) when verification is on', async () => {
    expect(await get(true)).toBe(BODY);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.['x-amz-checksum-mode']).toBe('ENABLED');
  });

  it.each([
    ['off', false],
    ['unset (custom endpoint)', undefined],
  ])('does not ask for it when verification is %s', async (_, verifyChecksums) => {
    expect(await get(verifyChecksums)).toBe(BODY);
    expect(seen).toHaveLength(1);
    expect(seen[0]).not.toHaveProperty('x-amz-checksum-mode');
  });

  it('checks the body against the checksum that comes back when on, and fails the read on a mismatch', async () => {
    const right = Buffer.alloc(4);
    right.writeUInt32BE(crc32(BODY));
    checksumHeader = right.toString('base64');
    expect(await get(true)).toBe(BODY);
    checksumHeader = Buffer.from([0, 0, 0, 0]).toString('base64');
    await expect(get(true)).rejects.toThrow(/checksum/i);
  });
});

describe('createS3Client: a request that stalls', () => {
  it.each([
    ['never answers', false, /exceeded the configured 300 ms requestTimeout/],
    ['stops sending its body', true, /timed out after 500 ms of inactivity/],
  ])('fails when the server %s', async (_, answer, message) => {
    const sockets: Socket[] = [];
    // A server that reads the request and then says nothing more (or only the first bytes of the body).
    const server = createTcpServer((socket) => {
      sockets.push(socket);
      socket.once('data', () => {
        if (answer)
          socket.write(
            'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/csv\r\n\r\nid,amount\n',
          );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = createS3Client({
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'k', secretAccessKey: 's' },
      stallTimeoutMs: 500,
      answerTimeoutMs: 300,
    });
    try {
      const reading = (async () => {
        const object = await client.send(new GetObjectCommand({ Bucket: 'b', Key: 'k.csv' }));
        for await (const _piece of object.Body as AsyncIterable<Buffer>) {
          // Read until the stall ends the body.
        }
      })();
      await expect(reading).rejects.toThrow(message);
    } finally {
      client.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
