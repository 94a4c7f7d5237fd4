import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { build } from 'esbuild';

/**
 * One-file ESM bundles, built the way the CDK stack builds the Lambda (infra/ingest-function.ts): minified,
 * ESM, `module` before `main`, and a require() shim for the CommonJS dependencies. Child processes then run
 * plain JavaScript under `node`, with no TypeScript loader inflating their memory or start time.
 */
export async function bundle(entry: string, target = 'node20'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'chute-bench-bundle-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const outfile = join(dir, `${basename(entry).replace(/\.ts$/, '')}.mjs`);
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    target,
    format: 'esm',
    mainFields: ['module', 'main'],
    banner: {
      js: "import { createRequire as __chuteCreateRequire } from 'node:module'; const require = __chuteCreateRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
  return outfile;
}
