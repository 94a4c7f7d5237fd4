import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.ts';
import type { CeilingRun } from './ceiling.ts';
import { runNodeJson } from './node-child.ts';

const CLIENT = fileURLToPath(new URL('./pipe-client.ts', import.meta.url));
let bundled: Promise<string> | undefined;

/** Each object piped from S3 into one insert by a loader with nothing in it (`pipe-client.ts`), in a fresh process. */
export async function runPipe(options: {
  s3Endpoint: string;
  bucket: string;
  keys: string[];
  clickhouseUrl: string;
  query: string;
  timeoutMs: number;
}): Promise<CeilingRun> {
  bundled ??= bundle(CLIENT);
  const script = await bundled;
  return runNodeJson<CeilingRun>({
    what: 'pipe process',
    args: [script],
    env: {
      PATH: process.env.PATH ?? '',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
    },
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
