import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ObjectRef, ObjectStore, OpenedObject } from '../ports/object-store.ts';

/** A local file as an object (bucket `local`, key = path), for the CLI. */
export class FileObjectStore implements ObjectStore {
  async open(ref: ObjectRef): Promise<OpenedObject | undefined> {
    try {
      const info = await stat(ref.key);
      return {
        body: createReadStream(ref.key, { highWaterMark: 256 * 1024 }),
        size: info.size,
        eTag: `${info.size}-${Math.floor(info.mtimeMs)}`,
        versionId: undefined,
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
}
