import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileSummary } from '../../functions/core/pipeline/summary.ts';
import { DEMO_TABLE, LOCAL_BUCKET, type LocalChute, startLocal } from '../../functions/local/local-runner.ts';
import { createS3rverClient } from '../fixtures/s3.ts';

describe('npm start: the local runner on embedded defaults (s3rver + chDB)', () => {
  let dir: string;
  let local: LocalChute;
  const files: FileSummary[] = [];
  const skipped: { key: string; why: string }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chute-local-'));
    local = await startLocal({
      dataDir: dir,
      s3Port: 0,
      queryPort: 0,
      onFile: (f) => files.push(f),
      onSkip: (key, why) => skipped.push({ key, why }),
    });
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

  // Last: it stops the runner.
  it('when stopped, finishes the file being loaded and turns away files dropped meanwhile', async () => {
    const s3 = createS3rverClient(local.s3Endpoint);
    const rows = Array.from({ length: 200_000 }, (_, i) => `${1000 + i},C${i},1.5,2026-11-01 10:00:00`);
    const big = `order_id,customer,amount,ordered_at\n${rows.join('\n')}\n`;
    await s3.send(new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key: 'incoming/big.csv', Body: big }));
    // s3rver sends an event before it answers the PUT: this one waits behind big.csv's load.
    await s3.send(
      new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key: 'incoming/queued.csv', Body: 'order_id\n8\n' }),
    );
    const closing = local.close();
    await s3.send(
      new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key: 'incoming/late.csv', Body: 'order_id\n9\n' }),
    );
    s3.destroy();
    await closing;

    expect(files.find((f) => f.key === 'incoming/big.csv')).toMatchObject({
      status: 'loaded',
      rowsInserted: 200_000,
    });
    const why =
      'arrived while chute was stopping, or waited behind the file being loaded: not loaded; put it again once chute runs';
    for (const key of ['incoming/queued.csv', 'incoming/late.csv']) {
      expect(files.find((f) => f.key === key)).toBeUndefined();
      expect(skipped).toContainEqual({ key, why });
    }
    expect(local.close()).toBe(closing);
  });
});

describe('npm start with CHUTE_CONFIG', () => {
  /** `npm start`'s script in a fresh process with CHUTE_CONFIG, told to stop once idle; resolves its output. */
  async function startWith(config: unknown): Promise<{ code: number | null; stdout: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'chute-local-'));
    const start = fileURLToPath(new URL('../../functions/local/start.ts', import.meta.url));
    try {
      return await new Promise((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', start],
          {
            env: {
              PATH: process.env.PATH ?? '',
              CHUTE_CONFIG: JSON.stringify(config),
              CHUTE_LOCAL_DIR: dir,
              CHUTE_LOCAL_S3_PORT: '0',
              CHUTE_LOCAL_QUERY_PORT: '0',
              CHUTE_LOCAL_EXIT_WHEN_IDLE: '1',
            },
            timeout: 90_000,
          },
          (error, out) => resolve({ code: error ? (error.code as number | null) : 0, stdout: out }),
        );
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("drops no sample into the user's routes, and says where their files go", async () => {
    const { code, stdout } = await startWith({
      routes: [{ prefix: 'incoming/', table: 'mine.events', format: 'ndjson' }],
    });
    expect(code).toBe(0);
    expect(stdout).toMatch(/s3:\/\/chute-local\/incoming\/… → mine\.events \(ndjson\)/);
    expect(stdout).not.toMatch(/Dropping the sample/);
    expect(stdout).not.toMatch(/sample-orders/);
  });

  it('keeps the demo route, its table and its sample when the configuration brings no routes', async () => {
    const { code, stdout } = await startWith({ chunking: { maxRows: 100 } });
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /loaded: s3:\/\/chute-local\/incoming\/sample-orders\.csv → chute_demo\.orders: 999 rows inserted, 1 rejected/,
    );
  });
});
