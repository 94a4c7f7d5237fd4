import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { processTempDir } from '../test/fixtures/temp-dir.ts';

/**
 * One-file ESM bundles, built the way the CDK stack builds the Lambda (infra/ingest-function.ts): minified,
 * ESM, `module` before `main`, and a require() shim for the CommonJS dependencies. Child processes then run
 * plain JavaScript under `node`, with no TypeScript loader inflating their memory or start time.
 */
export async function bundle(entry: string, target = 'node20'): Promise<string> {
  const outfile = join(processTempDir('chute-bench-bundle-'), `${basename(entry).replace(/\.ts$/, '')}.mjs`);
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

/** `bundle(entry)` built on the first call and reused after: a child script that runs many times. */
export function bundledOnce(entry: string): () => Promise<string> {
  let bundled: Promise<string> | undefined;
  return () => {
    bundled ??= bundle(entry);
    return bundled;
  };
}
