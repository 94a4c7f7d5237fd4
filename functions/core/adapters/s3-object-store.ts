import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ChuteError } from '../errors.ts';
import {
  type ObjectRef,
  type ObjectStore,
  type OpenedObject,
  objectLabel,
  realVersionId,
} from '../ports/object-store.ts';

const GONE = new Set(['NoSuchKey', 'NoSuchVersion', 'NotFound']);

/**
 * Reads exactly the version the event named: by version id when the bucket is versioned, else pinned to the
 * event's ETag, so an overwrite that lands meanwhile is loaded by its own event and never twice.
 */
export class S3ObjectStore implements ObjectStore {
  readonly #s3: S3Client;

  constructor(s3: S3Client) {
    this.#s3 = s3;
  }

  async open(ref: ObjectRef): Promise<OpenedObject | undefined> {
    const versionId = realVersionId(ref.versionId);
    try {
      const response = await this.#s3.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          VersionId: versionId,
          IfMatch: versionId === undefined ? quoted(ref.eTag) : undefined,
        }),
      );
      if (response.Body === undefined) throw new Error('S3 returned no body');
      return {
        body: response.Body as Readable,
        size: response.ContentLength,
        eTag: response.ETag,
        versionId: response.VersionId,
      };
    } catch (error) {
      if (error instanceof S3ServiceException && GONE.has(error.name)) return undefined;
      if (error instanceof S3ServiceException && error.name === 'PreconditionFailed') return undefined;
      throw new ChuteError(
        'OBJECT_READ_FAILED',
        `${objectLabel(ref.bucket, ref.key)}: cannot read the object (${error instanceof Error ? error.message : String(error)}); check the function's s3:GetObject permission on this prefix`,
        { cause: error },
      );
    }
  }
}

function quoted(eTag: string | undefined): string | undefined {
  if (eTag === undefined || eTag === '') return undefined;
  return eTag.startsWith('"') ? eTag : `"${eTag}"`;
}
