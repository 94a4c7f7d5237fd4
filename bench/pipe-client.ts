/**
 * A loader with nothing in it: for each object, one S3 GET, made with the SDK client chute uses, piped as it
 * arrives into one raw insert over `http.request`, one object after the other. No scanning, no chunking, no load
 * history, no check of any kind: what it reaches against the ceiling bounds what a loader that reads each object
 * in one GET and sends it as one insert stream can reach on the same machine, where the S3 server, ClickHouse
 * and the loader share the cores.
 * Reads { endpoint, bucket, keys, url, query } as JSON on stdin; prints { durationMs, peakRssBytes, cpuMs,
 * errors }.
 */
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../functions/core/adapters/s3-client.ts';
import { ownPeakRssBytes } from '../test/fixtures/peak-rss.ts';
import { rawInsert, readJsonInput } from './child-io.ts';

interface PipeInput {
  endpoint: string;
  bucket: string;
  keys: string[];
  url: string;
  query: string;
}

const input = await readJsonInput<PipeInput>();

const s3 = createS3Client({ endpoint: input.endpoint });
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const target = new URL(input.url);
target.searchParams.set('query', input.query);

async function pipeObject(key: string): Promise<void> {
  const object = await s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: key }));
  await rawInsert(target, agent, (insert) => pipeline(object.Body as Readable, insert));
}

const errors: string[] = [];
const cpuBefore = process.cpuUsage();
const started = performance.now();
for (const key of input.keys) {
  try {
    await pipeObject(key);
  } catch (error) {
    errors.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
const durationMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
agent.destroy();
s3.destroy();
process.stdout.write(
  `${JSON.stringify({ durationMs, peakRssBytes: ownPeakRssBytes(), cpuMs: (cpu.user + cpu.system) / 1000, errors })}\n`,
);
