import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { ObjectRef, RejectedRow, RejectsStore, RejectsWriter } from '../ports/object-store.ts';
import { rejectsLine } from './rejects-format.ts';

/** For the CLI on a local file: rejects go to one local NDJSON file. */
export class FileRejectsStore implements RejectsStore {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  create(source: ObjectRef): RejectsWriter {
    return new FileRejectsWriter(this.#path, source);
  }
}

/**
 * Writes beside the final path and renames on close, as S3's multipart upload completes: an attempt that fails
 * leaves the rejects of an earlier one that succeeded as they were.
 */
class FileRejectsWriter implements RejectsWriter {
  readonly #path: string;
  readonly #source: ObjectRef;
  #stream: WriteStream | undefined;

  constructor(path: string, source: ObjectRef) {
    this.#path = path;
    this.#source = source;
  }

  async write(row: RejectedRow): Promise<void> {
    this.#stream ??= createWriteStream(this.#partial());
    if (!this.#stream.write(rejectsLine(this.#source, row))) await once(this.#stream, 'drain');
  }

  async close(): Promise<string> {
    this.#stream ??= createWriteStream(this.#partial());
    const stream = this.#stream;
    await new Promise<void>((resolve, reject) => {
      stream.once('error', reject);
      stream.end(resolve);
    });
    await rename(this.#partial(), this.#path);
    return this.#path;
  }

  async abort(): Promise<void> {
    this.#stream?.destroy();
    await rm(this.#partial(), { force: true });
  }

  #partial(): string {
    return `${this.#path}.partial`;
  }
}
