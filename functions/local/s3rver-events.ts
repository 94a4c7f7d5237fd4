import type { S3Event } from 'aws-lambda';

/**
 * s3rver 4 emits the whole `{ Records: [...] }` notification, but with the key as uploaded and the ARN as
 * `arn:aws:s3: : :bucket`. Real S3 form-encodes the key (a space becomes `+`, `+` becomes `%2B`, `/` stays)
 * and writes `arn:aws:s3:::bucket`; the handler must see here what it will see in Lambda.
 */
export function asDeliveredByS3(event: S3Event): S3Event {
  return {
    Records: event.Records.map((record) => ({
      ...record,
      s3: {
        ...record.s3,
        bucket: { ...record.s3.bucket, arn: `arn:aws:s3:::${record.s3.bucket.name}` },
        object: { ...record.s3.object, key: encodeEventKey(record.s3.object.key) },
      },
    })),
  };
}

export function encodeEventKey(key: string): string {
  return key
    .split('/')
    .map((segment) => new URLSearchParams([['', segment]]).toString().slice(1))
    .join('/');
}
