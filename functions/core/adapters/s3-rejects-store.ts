import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { ObjectRef, RejectedRow, RejectsStore, RejectsWriter } from '../ports/object-store.ts';
import { rejectsKey, rejectsLine } from './rejects-format.ts';

/** S3 refuses multipart parts under 5 MiB (but the last); 8 MiB keeps memory bounded and parts few. */
const PART_BYTES = 8 * 1024 * 1024;

/** Rejects go under the rejects prefix (which no route may match), in the source bucket unless told otherwise. */
export class S3RejectsStore implements RejectsStore {
  readonly #s3: S3Client;
  readonly #prefix: string;
  readonly #bucket: string | undefined;

  constructor(s3: S3Client, prefix: string, bucket?: string) {
    this.#s3 = s3;
    this.#prefix = prefix;
    this.#bucket = bucket;
  }

  create(source: ObjectRef): RejectsWriter {
    return new S3RejectsWriter(
      this.#s3,
      source,
      this.#bucket ?? source.bucket,
      rejectsKey(this.#prefix, source),
    );
  }
}

/** Buffers up to one part, then streams parts as a multipart upload: memory stays flat however many rejects. */
class S3RejectsWriter implements RejectsWriter {
  readonly #s3: S3Client;
  readonly #source: ObjectRef;
  readonly #bucket: string;
  readonly #key: string;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  #uploadId: string | undefined;
  #parts: { ETag: string | undefined; PartNumber: number }[] = [];

  constructor(s3: S3Client, source: ObjectRef, bucket: string, key: string) {
    this.#s3 = s3;
    this.#source = source;
    this.#bucket = bucket;
    this.#key = key;
  }

  async write(row: RejectedRow): Promise<void> {
    const line = Buffer.from(rejectsLine(this.#source, row));
    this.#buffered.push(line);
    this.#bufferedBytes += line.length;
    if (this.#bufferedBytes >= PART_BYTES) await this.#uploadPart();
  }

  async close(): Promise<string> {
    const location = `s3://${this.#bucket}/${this.#key}`;
    if (this.#uploadId === undefined) {
      await this.#s3.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#key,
          Body: Buffer.concat(this.#buffered),
          ContentType: 'application/x-ndjson',
        }),
      );
      this.#buffered = [];
      return location;
    }
    if (this.#bufferedBytes > 0) await this.#uploadPart();
    await this.#s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.#bucket,
        Key: this.#key,
        UploadId: this.#uploadId,
        MultipartUpload: { Parts: this.#parts },
      }),
    );
    return location;
  }

  async abort(): Promise<void> {
    this.#buffered = [];
    if (this.#uploadId === undefined) return;
    await this.#s3.send(
      new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: this.#key, UploadId: this.#uploadId }),
    );
  }

  async #uploadPart(): Promise<void> {
    if (this.#uploadId === undefined) {
      const created = await this.#s3.send(
        new CreateMultipartUploadCommand({
          Bucket: this.#bucket,
          Key: this.#key,
          ContentType: 'application/x-ndjson',
        }),
      );
      this.#uploadId = created.UploadId;
    }
    const PartNumber = this.#parts.length + 1;
    const body = Buffer.concat(this.#buffered);
    this.#buffered = [];
    this.#bufferedBytes = 0;
    const uploaded = await this.#s3.send(
      new UploadPartCommand({
        Bucket: this.#bucket,
        Key: this.#key,
        UploadId: this.#uploadId,
        PartNumber,
        Body: body,
      }),
    );
    this.#parts.push({ ETag: uploaded.ETag, PartNumber });
  }
}
