import type { S3Event } from 'aws-lambda';
import { type ObjectRef, realVersionId } from '../core/ports/object-store.ts';

/** S3 writes keys into events form-encoded: `+` is a space, everything else percent-encoded. */
export function decodeEventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

export interface DecodedEvent {
  readonly objects: ObjectRef[];
  /** Records that are not object creations (S3's test event, deletions): logged, not loaded. */
  readonly ignored: string[];
}

/** Every record of the event (one event can hold several), each naming one object version. */
export function decodeS3Event(event: Partial<S3Event> & { Event?: string }): DecodedEvent {
  const objects: ObjectRef[] = [];
  const ignored: string[] = [];
  if (event.Event !== undefined) ignored.push(event.Event); // s3:TestEvent, sent once when notifications are set up
  for (const record of event.Records ?? []) {
    if (!record.eventName?.startsWith('ObjectCreated')) {
      ignored.push(record.eventName ?? 'unknown');
      continue;
    }
    const { bucket, object } = record.s3;
    objects.push({
      bucket: bucket.name,
      key: decodeEventKey(object.key),
      versionId: realVersionId(object.versionId),
      eTag: object.eTag || undefined,
      size: object.size,
      eventTime: record.eventTime,
    });
  }
  return { objects, ignored };
}
