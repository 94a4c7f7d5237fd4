import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { queryRows, uniqueName } from '../fixtures/tables.ts';

const MAIN = fileURLToPath(new URL('../../functions/cli/main.ts', import.meta.url));

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npm run chute -- ...`, as a user runs it: a process of its own, its exit code and output. */
function chute(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      {
        env: {
          PATH: process.env.PATH ?? '',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...env,
        },
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('the CLI against the 18.16 server (a local file)', () => {
  let client: ClickHouseClient;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    const url = inject('clickhouseUrl');
    client = createClient({ url });
    dir = await mkdtemp(join(tmpdir(), 'chute-cli-'));
    env = { CLICKHOUSE_URL: url };
  });
  afterAll(async () => {
    await client?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a file, writes its bad row next to it, and skips it the second time', async () => {
    const table = uniqueName('cli_orders');
    const ledger = uniqueName('cli_history');
    await client.command({
      query: `CREATE TABLE ${table} (id UInt32, amount Float64) ENGINE = MergeTree ORDER BY id`,
    });
    const file = join(dir, 'orders.csv');
    await writeFile(file, 'id,amount\n1,10.5\n2,n/a\n3,30\n');
    const args = ['ingest', file, '--table', table, '--ledger', ledger, '--at-least-once', '--quiet'];

    const first = await chute(args, env);
    expect(first.stderr).toMatch(/1 row\(s\) rejected, see .*orders\.csv\.rejects\.ndjson/);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(summary).toMatchObject({
      message: 'file summary',
      status: 'loaded',
      rowsInserted: 2,
      rowsRejected: 1,
    });
    const rejects = (await readFile(`${file}.rejects.ndjson`, 'utf8')).trim().split('\n');
    expect(rejects).toHaveLength(1);
    expect(JSON.parse(rejects[0] ?? '{}')).toMatchObject({ line: 3, raw: '2,n/a' });
    const rows = await queryRows<{ id: number }>(client, `SELECT id FROM ${table} ORDER BY id`);
    expect(rows.map((r) => r.id)).toEqual([1, 3]);

    const second = await chute(args, env);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/skipped/);
    const [count] = await queryRows<{ c: string }>(client, `SELECT count() AS c FROM ${table}`);
    expect(count?.c).toBe('2');

    const history = await chute(['history', '--ledger', ledger, '--json'], env);
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/"status":"loaded"/);
  });

  it('exits 1 when the file fails, naming the file', async () => {
    const table = uniqueName('cli_orders');
    await client.command({
      query: `CREATE TABLE ${table} (id UInt32, amount Float64) ENGINE = MergeTree ORDER BY id`,
    });
    const file = join(dir, 'extra.csv');
    await writeFile(file, 'id,amount,colour\n1,10,red\n');
    const run = await chute(
      ['ingest', file, '--table', table, '--no-ledger', '--at-least-once', '--quiet'],
      env,
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/chute: failed: .*extra\.csv.*colour/);
  });

  it('exits 2 on bad usage or a missing connection, and prints --help', async () => {
    const noTable = await chute(['ingest', join(dir, 'a.csv')], env);
    expect(noTable.code).toBe(2);
    expect(noTable.stderr).toMatch(/--table is required \(see --help\)/);
    const noUrl = await chute(['ingest', join(dir, 'a.csv'), '--table', 't'], {});
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/CLICKHOUSE_URL is not set/);
    const help = await chute(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^chute — load a file into a ClickHouse table/);
  });
});
