import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileSummary } from '../../functions/core/pipeline/summary.ts';
import { DEMO_TABLE, LOCAL_BUCKET, type LocalChute, startLocal } from '../../functions/local/local-runner.ts';
import { createS3rverClient } from '../fixtures/s3.ts';

describe('npm start: the local runner on embedded defaults (s3rver + chDB)', () => {
  let dir: string;
  let local: LocalChute;
  const files: FileSummary[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chute-local-'));
    local = await startLocal({ dataDir: dir, s3Port: 0, queryPort: 0, onFile: (f) => files.push(f) });
  });
  afterAll(async () => {
    await local?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('turns a file dropped into the bucket into rows, visible through the query endpoint', async () => {
    const s3 = createS3rverClient(local.s3Endpoint);
    const csv =
      'order_id,customer,amount,ordered_at\n1,Ada,10.5,2026-11-01 10:00:00\n2,Grace,20,2026-11-02 11:00:00\n';
    await s3.send(new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key: 'incoming/first drop.csv', Body: csv }));
    s3.destroy();
    await local.idle();

    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ status: 'loaded', key: 'incoming/first drop.csv', rowsInserted: 2 });
    const response = await fetch(
      `${local.queryUrl}/?query=${encodeURIComponent(`SELECT order_id, customer FROM ${DEMO_TABLE} ORDER BY order_id`)}`,
    );
    expect(await response.text()).toBe('order_id\tcustomer\n1\tAda\n2\tGrace\n');
  });

  it('answers only reads, and nothing a web page in a browser sends', async () => {
    const ask = (query: string, headers: Record<string, string> = {}) =>
      fetch(`${local.queryUrl}/?query=${encodeURIComponent(query)}`, { headers });
    const drop = await ask(`DROP TABLE ${DEMO_TABLE}`);
    expect(drop.status).toBe(400);
    expect(await drop.text()).toMatch(/only queries that read/);
    const fromAPage = await ask(`SELECT count() FROM ${DEMO_TABLE}`, {
      origin: 'https://example.com',
      'sec-fetch-site': 'cross-site',
    });
    expect(fromAPage.status).toBe(403);
    const still = await ask(`SELECT count() FROM ${DEMO_TABLE}`);
    expect(still.status).toBe(200);
    expect(await still.text()).toMatch(/^count\(\)\n\d+\n$/);
  });
});
