import { fileURLToPath } from 'node:url';
import { bundledOnce } from './bundle.ts';
import type { CeilingRun } from './ceiling.ts';
import { s3ClientEnv } from './env.ts';
import { runNodeJson } from './node-child.ts';

const client = bundledOnce(fileURLToPath(new URL('./pipe-client.ts', import.meta.url)));

/** Each object piped from S3 into one insert by a loader with nothing in it (`pipe-client.ts`), in a fresh process. */
export async function runPipe(options: {
  s3Endpoint: string;
  bucket: string;
  keys: string[];
  clickhouseUrl: string;
  query: string;
  timeoutMs: number;
}): Promise<CeilingRun> {
  const script = await client();
  return runNodeJson<CeilingRun>({
    what: 'pipe process',
    args: [script],
    env: s3ClientEnv(),
    input: {
      endpoint: options.s3Endpoint,
      bucket: options.bucket,
      keys: options.keys,
      url: options.clickhouseUrl,
      query: options.query,
    },
    timeoutMs: options.timeoutMs,
  });
}
