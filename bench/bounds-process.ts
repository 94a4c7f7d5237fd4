/**
 * Rates of the parts of chute's path that are not chute's own code, measured in a process of its own (as the
 * handler runs): one S3 GET stream read to the end with the SDK client chute uses; the same with every byte
 * through the SDK's CRC64-NVME (what the client does on AWS for an object stored with that checksum, which S3
 * has given every new object uploaded without one since December 2024: the local server sends none, so the bench's loads never pay it);
 * node's streaming gunzip. Reads { endpoint, bucket, key, gzipPath, runs } on stdin; prints { getMs: [...],
 * bytes, crcGetMs: [...], gunzipMs: [...], gunzipBytes }.
 */
import { createReadStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Crc64Nvme } from '@aws-sdk/checksums/crc';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../functions/core/adapters/s3-client.ts';
import { readJsonInput } from './child-io.ts';

interface Input {
  endpoint: string;
  bucket: string;
  key: string;
  gzipPath: string;
  runs: number;
}

const input = await readJsonInput<Input>();

const s3 = createS3Client({ endpoint: input.endpoint });
const getMs: number[] = [];
const crcGetMs: number[] = [];
const gunzipMs: number[] = [];
let bytes = 0;
let gunzipBytes = 0;
for (let i = 0; i < input.runs; i++) {
  const started = performance.now();
  const response = await s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: input.key }));
  bytes = await drain(response.Body as Readable);
  getMs.push(performance.now() - started);

  const checkedStarted = performance.now();
  const checked = await s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: input.key }));
  const checksum = new Crc64Nvme();
  await drain(checked.Body as Readable, (piece) => checksum.update(piece));
  await checksum.digest();
  crcGetMs.push(performance.now() - checkedStarted);

  const unzipStarted = performance.now();
  gunzipBytes = await drain(createReadStream(input.gzipPath).pipe(createGunzip()));
  gunzipMs.push(performance.now() - unzipStarted);
}
s3.destroy();
process.stdout.write(`${JSON.stringify({ getMs, bytes, crcGetMs, gunzipMs, gunzipBytes })}\n`);

async function drain(stream: Readable, each?: (piece: Buffer) => void): Promise<number> {
  let total = 0;
  for await (const piece of stream) {
    total += (piece as Buffer).length;
    each?.(piece as Buffer);
  }
  return total;
}
