import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from '../bundle.ts';
import type { Context } from '../context.ts';
import { s3ClientEnv } from '../env.ts';
import { runNodeJson } from '../node-child.ts';
import { MB, type Stat, stat } from '../stats.ts';

export interface BoundsResult {
  kind: 'bounds';
  id: 'bounds';
  title: string;
  target: string;
  /** One GET stream of the clean CSV object from the local S3 server, read to the end. */
  s3GetMbPerS: Stat;
  /** The same GET with every byte through the SDK's CRC64-NVME, as on AWS for objects stored with it. */
  s3GetCrc64MbPerS: Stat;
  /** Streaming gunzip of the gzip object, in decompressed MB/s. */
  gunzipMbPerS: Stat;
  met: boolean;
  failures: string[];
}

const SCRIPT = fileURLToPath(new URL('../bounds-process.ts', import.meta.url));

/**
 * The CRC64-NVME timed is the bench's own `@aws-sdk/checksums`, a devDependency pinned to the version the S3
 * client depends on. Should an upgrade of `@aws-sdk/client-s3` bring it a copy of its own, the bench would time
 * another implementation than the one the client runs: refused, with what to do.
 */
function checkChecksumsCopy(): string | undefined {
  const require = createRequire(import.meta.url);
  const client = dirname(require.resolve('@aws-sdk/client-s3/package.json'));
  if (!existsSync(join(client, 'node_modules', '@aws-sdk', 'checksums'))) return undefined;
  return '@aws-sdk/client-s3 has its own copy of @aws-sdk/checksums: set the devDependency @aws-sdk/checksums to the version it depends on, so the bench times the CRC64-NVME the client runs';
}

/** The rates of the parts of the path that are not chute's code: what no tuning of chute can beat. */
export async function bounds(ctx: Context): Promise<BoundsResult> {
  const copy = checkChecksumsCopy();
  if (copy !== undefined) throw new Error(copy);
  ctx.log('bounds: S3 GET (with and without the SDK checksum) and gunzip rates on their own');
  const csv = await ctx.data.cleanCsv();
  const gz = await ctx.data.gzipCsv();
  const script = await bundle(SCRIPT);
  const input = {
    endpoint: ctx.env.s3.endpoint,
    bucket: ctx.env.bucket,
    key: csv.key,
    gzipPath: gz.gzipPath,
    runs: ctx.options.smoke ? 1 : 3,
  };
  const out = await runNodeJson<{
    getMs: number[];
    bytes: number;
    crcGetMs: number[];
    gunzipMs: number[];
    gunzipBytes: number;
  }>({
    what: 'bounds process',
    args: [script],
    env: s3ClientEnv(),
    input,
  });
  return {
    kind: 'bounds',
    id: 'bounds',
    title: 'rates of the parts chute does not control',
    target: 'reported only',
    s3GetMbPerS: stat(out.getMs.map((ms) => out.bytes / MB / (ms / 1000))),
    s3GetCrc64MbPerS: stat(out.crcGetMs.map((ms) => out.bytes / MB / (ms / 1000))),
    gunzipMbPerS: stat(out.gunzipMs.map((ms) => out.gunzipBytes / MB / (ms / 1000))),
    met: true,
    failures: [],
  };
}
