import { createReadStream } from 'node:fs';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Event } from 'aws-lambda';
import type { BenchEnv } from './env.ts';

/**
 * Objects in the local S3 server, each with the notification s3rver emitted for it: the event chute's
 * handler receives, exactly as S3 would deliver it. Uploading is setup, never part of a measurement.
 */

/** Streams a file of any size into S3 (multipart above 16 MiB) and returns its creation event. */
export async function uploadFile(env: BenchEnv, key: string, path: string): Promise<S3Event> {
  return captureEvent(env, key, async () => {
    await new Upload({
      client: env.s3.client,
      params: { Bucket: env.bucket, Key: key, Body: createReadStream(path, { highWaterMark: 1024 * 1024 }) },
      partSize: 16 * 1024 * 1024,
      queueSize: 1,
    }).done();
  });
}

export async function putObject(env: BenchEnv, key: string, body: Buffer): Promise<S3Event> {
  return captureEvent(env, key, async () => {
    await env.s3.client.send(new PutObjectCommand({ Bucket: env.bucket, Key: key, Body: body }));
  });
}

export async function deleteObject(env: BenchEnv, key: string): Promise<void> {
  await env.s3.client.send(new DeleteObjectCommand({ Bucket: env.bucket, Key: key }));
}

/** The text of `s3://bucket/key` (a rejects object). */
export async function readObjectText(env: BenchEnv, location: string): Promise<string> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (match?.[1] === undefined || match[2] === undefined)
    throw new Error(`not an s3:// location: ${location}`);
  const response = await env.s3.client.send(new GetObjectCommand({ Bucket: match[1], Key: match[2] }));
  return (await response.Body?.transformToString('utf8')) ?? '';
}

async function captureEvent(env: BenchEnv, key: string, upload: () => Promise<void>): Promise<S3Event> {
  let event: S3Event | undefined;
  const unsubscribe = env.s3.onEvent((candidate) => {
    if (candidate.Records.some((r) => decodeURIComponent(r.s3.object.key.replace(/\+/g, ' ')) === key)) {
      event = candidate;
    }
  });
  try {
    await upload();
  } finally {
    unsubscribe();
  }
  if (event === undefined) throw new Error(`s3rver emitted no event for s3://${env.bucket}/${key}`);
  return event;
}
