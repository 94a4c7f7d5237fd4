import type { Readable } from 'node:stream';

/** The bucket name local files are filed under, in summaries and the load history. */
export const LOCAL_FILES = 'local';

/** How an object is named in messages: `s3://bucket/key`, or the path of a local file. */
/**
 * A version id that names one version: not empty, and not `null`, which S3 gives every object written while
 * versioning is off or suspended, so that it names whatever was written last under the key. Without one, a
 * version is the object's ETag, and reads are pinned to it.
 */
export function realVersionId(versionId: string | undefined | null): string | undefined {
  return versionId === undefined || versionId === null || versionId === '' || versionId === 'null'
    ? undefined
    : versionId;
}

export function objectLabel(bucket: string, key: string): string {
  return bucket === LOCAL_FILES ? key : `s3://${bucket}/${key}`;
}

/** One version of one object: what exactly-once is keyed on. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  /** S3 version id, when the bucket is versioned. */
  readonly versionId?: string | undefined;
  /** ETag from the event: pins the content when there is no version id. */
  readonly eTag?: string | undefined;
  readonly size?: number | undefined;
  /** When S3 says the object was created (the event time), for ingest lag. */
  readonly eventTime?: string | undefined;
}

export interface OpenedObject {
  readonly body: Readable;
  readonly size: number | undefined;
  readonly eTag: string | undefined;
  readonly versionId: string | undefined;
}

/** The S3 seam. `open` resolves undefined when the object (version) is gone: deleted before its event ran. */
export interface ObjectStore {
  open(ref: ObjectRef): Promise<OpenedObject | undefined>;
}

/** A rejected row as written to the rejects object: one JSON line each. */
export interface RejectedRow {
  /** 1-based physical line in the (decompressed) file. */
  readonly line: number;
  /** 1-based data row (header excluded). */
  readonly row: number;
  readonly reason: string;
  readonly raw: string;
}

export interface RejectsWriter {
  write(row: RejectedRow): Promise<void>;
  /** Completes the rejects object; resolves its location. */
  close(): Promise<string>;
  /** Drops a half-written rejects object after a failure. */
  abort(): Promise<void>;
}

/** Where rejected rows go: an S3 object under the rejects prefix, or a local file for the CLI. */
export interface RejectsStore {
  /** Opens the rejects object for one object version: the same version always gets the same location. */
  create(source: ObjectRef): RejectsWriter;
}
