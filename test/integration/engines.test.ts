import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ChdbSession, createChdbClient } from '../fixtures/chdb.ts';
import { startClickHouseServer } from '../fixtures/clickhouse-server.ts';
import { type RunningS3, startS3Server } from '../fixtures/s3.ts';
import { queryRows, uniqueName } from '../fixtures/tables.ts';

const ROWS = 1_000;

async function version(client: ClickHouseClient): Promise<string> {
  const [row] = await queryRows<{ v: string }>(client, 'SELECT version() AS v');
  return row?.v ?? '';
}

// Raw CSV as a byte stream, the way the loader sends files.
async function insertCsvAndCount(client: ClickHouseClient): Promise<number> {
  const table = uniqueName('engines_smoke');
  await client.command({
    query: `CREATE TABLE ${table} (id UInt32, name String) ENGINE = MergeTree ORDER BY id`,
  });
  const lines = Array.from({ length: ROWS }, (_, i) => `${i},"name, ${i}"\n`);
  const values = Readable.from([Buffer.from(lines.join(''))], { objectMode: false });
  await client.insert({ table, values, format: 'CSV' });
  const [row] = await queryRows<{ c: string }>(client, `SELECT count() AS c FROM ${table}`);
  await client.command({ query: `DROP TABLE ${table}` });
  return Number(row?.c);
}

describe('shared ClickHouse server (globalSetup)', () => {
  let client: ClickHouseClient;
  beforeAll(() => {
    client = createClient({ url: inject('clickhouseUrl') });
  });
  afterAll(() => client.close());

  it('answers SELECT version()', async () => {
    expect(await version(client)).toMatch(/^\d/);
  });

  it('loads a CSV byte stream into MergeTree', async () => {
    expect(await insertCsvAndCount(client)).toBe(ROWS);
  });
});

describe('private ClickHouse server', () => {
  it('applies keep_alive_timeout, keeps data and port across restart(), cleans up on stop()', async () => {
    const server = await startClickHouseServer({ keepAliveTimeoutSeconds: 4 });
    try {
      const ping = await fetch(`${server.url}/ping`);
      expect(await ping.text()).toBe('Ok.\n');
      expect(ping.headers.get('keep-alive')).toBe('timeout=4');

      const client = createClient({ url: server.url });
      const table = uniqueName('restart');
      await client.command({ query: `CREATE TABLE ${table} (x UInt8) ENGINE = MergeTree ORDER BY x` });
      await client.command({ query: `INSERT INTO ${table} VALUES (1), (2), (3)` });
      await client.close();
      const before = server.pid();

      await server.restart();

      expect(server.pid()).toBeDefined();
      expect(server.pid()).not.toBe(before);
      const after = createClient({ url: server.url });
      expect(await queryRows(after, `SELECT count() AS c FROM ${table}`)).toEqual([{ c: '3' }]);
      await after.close();
    } finally {
      await server.stop();
    }
    await expect(fetch(`${server.url}/ping`)).rejects.toThrow();
  });
});

describe('chDB', () => {
  let chdb: ChdbSession;
  beforeAll(() => {
    chdb = createChdbClient();
  });
  afterAll(() => chdb.close());

  it('answers SELECT version()', async () => {
    expect(await version(chdb.client)).toMatch(/^\d/);
  });

  it('loads a CSV byte stream into MergeTree', async () => {
    expect(await insertCsvAndCount(chdb.client)).toBe(ROWS);
  });
});

describe('s3rver', () => {
  let s3: RunningS3;
  beforeAll(async () => {
    s3 = await startS3Server();
  });
  afterAll(() => s3.stop());

  it('stores an object and emits the notification real S3 would', async () => {
    const Bucket = 'engines-smoke';
    const Key = 'incoming/2024 report+final.csv';
    const events: S3Event[] = [];
    s3.onEvent((event) => events.push(event));
    await s3.createBucket(Bucket);

    await s3.client.send(new PutObjectCommand({ Bucket, Key, Body: 'id,name\n1,a\n' }));
    const got = await s3.client.send(new GetObjectCommand({ Bucket, Key }));

    expect(await got.Body?.transformToString()).toBe('id,name\n1,a\n');
    expect(events).toHaveLength(1);
    const record = events[0]?.Records[0];
    expect(record?.eventName).toMatch(/^ObjectCreated/);
    expect(record?.s3.bucket).toMatchObject({ name: Bucket, arn: `arn:aws:s3:::${Bucket}` });
    expect(record?.s3.object).toMatchObject({ key: 'incoming/2024+report%2Bfinal.csv', size: 12 });
    expect(decodeURIComponent((record?.s3.object.key ?? '').replace(/\+/g, ' '))).toBe(Key);
  });
});
