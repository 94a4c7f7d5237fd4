import { stat as fileStat } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundle } from '../bundle.ts';
import type { Context } from '../context.ts';
import { runNodeJson } from '../node-child.ts';
import { type Stat, stat } from '../stats.ts';

export const BUNDLE_LIMIT_BYTES = 1024 * 1024;
export const IMPORT_LIMIT_MS = 300;

export interface ColdStartResult {
  kind: 'cold-start';
  id: 'cold-start';
  title: string;
  target: string;
  bundleBytes: number;
  importMs: Stat;
  rssAfterImportBytes: Stat;
  met: boolean;
  failures: string[];
}

const HANDLER = fileURLToPath(new URL('../../functions/ingest/handler.ts', import.meta.url));

/** What Lambda loads at a cold start: the handler bundled as the CDK stack bundles it, imported by a fresh node. */
export async function coldStart(ctx: Context): Promise<ColdStartResult> {
  ctx.log('cold-start: bundle size and import time');
  // node22: the oldest runtime the stack deploys (the bundle is the same syntax for node24).
  const path = await bundle(HANDLER, 'node22');
  const bundleBytes = (await fileStat(path)).size;
  const samples: { ms: number; rss: number }[] = [];
  const failures: string[] = [];
  for (let i = 0; i < ctx.options.importRuns; i++) {
    try {
      samples.push(await importOnce(pathToFileURL(path).href));
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  const importMs = stat(samples.map((s) => s.ms));
  return {
    kind: 'cold-start',
    id: 'cold-start',
    title: 'cold start',
    target: 'bundle ≤ 1 MiB minified; module import ≤ 300 ms',
    bundleBytes,
    importMs,
    rssAfterImportBytes: stat(samples.map((s) => s.rss)),
    met: failures.length === 0 && bundleBytes <= BUNDLE_LIMIT_BYTES && importMs.median <= IMPORT_LIMIT_MS,
    failures,
  };
}

/**
 * `await import(bundle)` timed inside a fresh node process: module load, parse and top-level evaluation, which
 * in Lambda (AWS_LAMBDA_FUNCTION_NAME set) builds the container too: configuration, logger, both clients and
 * the chunk buffers (two 18 MiB buffers, every page written: about 20 ms and 36 MiB of RSS). No
 * secret is read (it would be a Secrets Manager round trip on top) and nothing connects: clients connect on
 * first use.
 */
function importOnce(url: string): Promise<{ ms: number; rss: number }> {
  const code = [
    'const started = performance.now();',
    'await import(process.env.CHUTE_BUNDLE_URL);',
    'const ms = performance.now() - started;',
    'process.stdout.write(JSON.stringify({ ms, rss: process.memoryUsage().rss }));',
  ].join('\n');
  return runNodeJson({
    what: 'import process',
    args: ['--input-type=module', '-e', code],
    env: {
      PATH: process.env.PATH ?? '',
      CHUTE_BUNDLE_URL: url,
      AWS_LAMBDA_FUNCTION_NAME: 'chute-bench',
      AWS_REGION: 'us-east-1',
      CHUTE_CONFIG: JSON.stringify({ routes: [{ prefix: 'in/', table: 'events', format: 'csv' }] }),
      CLICKHOUSE_URL: 'http://127.0.0.1:8123',
    },
  });
}
