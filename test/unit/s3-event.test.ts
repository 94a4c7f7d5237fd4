import type { S3Event, S3EventRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { decodeEventKey, decodeS3Event } from '../../functions/ingest/s3-event.ts';

function record(
  eventName: string,
  key: string,
  object: Partial<S3EventRecord['s3']['object']> = {},
  bucket = 'landing',
): S3EventRecord {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'eu-west-1',
    eventTime: '2024-05-01T12:00:00.000Z',
    eventName,
    userIdentity: { principalId: 'AWS:EXAMPLE' },
    requestParameters: { sourceIPAddress: '10.0.0.1' },
    responseElements: { 'x-amz-request-id': 'REQ', 'x-amz-id-2': 'ID2' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'chute',
      bucket: { name: bucket, ownerIdentity: { principalId: 'OWNER' }, arn: `arn:aws:s3:::${bucket}` },
      object: { key, size: 42, eTag: 'abc123', sequencer: '0055AED6DCD90281E5', ...object },
    },
  } as S3EventRecord;
}

describe('decodeEventKey', () => {
  it.each([
    ['plain/key.csv', 'plain/key.csv'],
    ['my+file.csv', 'my file.csv'],
    ['a%2Bb.csv', 'a+b.csv'],
    ['year%3D2024/month%3D05/x.csv', 'year=2024/month=05/x.csv'],
    ['caf%C3%A9/%E6%97%A5%E6%9C%AC.csv', 'café/日本.csv'],
    ['%F0%9F%93%A6+box.csv', '📦 box.csv'],
    ['100%25+done.csv', '100% done.csv'],
    ['a%2B+b+%2B', 'a+ b +'],
    ['path%2Fencoded', 'path/encoded'],
  ])('%s → %s', (encoded, decoded) => {
    expect(decodeEventKey(encoded)).toBe(decoded);
  });
});

describe('decodeS3Event', () => {
  it('decodes every creation record of an event, in order', () => {
    const event: S3Event = {
      Records: [
        record('ObjectCreated:Put', 'in/a+b.csv', { versionId: 'v1', eTag: 'e1', size: 10 }),
        record(
          'ObjectCreated:CompleteMultipartUpload',
          'in/c%3D1.csv',
          { versionId: 'v2', size: 20 },
          'other',
        ),
        record('ObjectCreated:Copy', 'in/d.csv'),
      ],
    };
    const { objects, ignored } = decodeS3Event(event);
    expect(ignored).toEqual([]);
    expect(objects).toEqual([
      {
        bucket: 'landing',
        key: 'in/a b.csv',
        versionId: 'v1',
        eTag: 'e1',
        size: 10,
        eventTime: '2024-05-01T12:00:00.000Z',
      },
      {
        bucket: 'other',
        key: 'in/c=1.csv',
        versionId: 'v2',
        eTag: 'abc123',
        size: 20,
        eventTime: '2024-05-01T12:00:00.000Z',
      },
      {
        bucket: 'landing',
        key: 'in/d.csv',
        versionId: undefined,
        eTag: 'abc123',
        size: 42,
        eventTime: '2024-05-01T12:00:00.000Z',
      },
    ]);
  });

  it('treats an empty version id or eTag as absent', () => {
    const { objects } = decodeS3Event({
      Records: [record('ObjectCreated:Put', 'k.csv', { versionId: '', eTag: '' })],
    });
    expect(objects).toHaveLength(1);
    expect(objects[0]?.versionId).toBeUndefined();
    expect(objects[0]?.eTag).toBeUndefined();
  });

  it('takes the version id "null" (versioning off or suspended) as none, so the ETag names the version', () => {
    const { objects } = decodeS3Event({
      Records: [record('ObjectCreated:Put', 'k.csv', { versionId: 'null', eTag: 'e9' })],
    });
    expect(objects[0]?.versionId).toBeUndefined();
    expect(objects[0]?.eTag).toBe('e9');
  });

  it('ignores removals and other events, reporting their names', () => {
    const { objects, ignored } = decodeS3Event({
      Records: [
        record('ObjectRemoved:Delete', 'in/gone.csv'),
        record('ObjectCreated:Put', 'in/kept.csv'),
        record('ObjectRemoved:DeleteMarkerCreated', 'in/marker.csv'),
        record('ObjectRestore:Completed', 'in/restored.csv'),
      ],
    });
    expect(objects.map((o) => o.key)).toEqual(['in/kept.csv']);
    expect(ignored).toEqual([
      'ObjectRemoved:Delete',
      'ObjectRemoved:DeleteMarkerCreated',
      'ObjectRestore:Completed',
    ]);
  });

  it('ignores S3’s test event', () => {
    const testEvent = {
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Time: '2024-05-01T12:00:00.000Z',
      Bucket: 'landing',
      RequestId: 'REQ',
      HostId: 'HOST',
    };
    expect(decodeS3Event(testEvent)).toEqual({ objects: [], ignored: ['s3:TestEvent'] });
  });

  it('returns nothing for an event without records', () => {
    expect(decodeS3Event({})).toEqual({ objects: [], ignored: [] });
    expect(decodeS3Event({ Records: [] })).toEqual({ objects: [], ignored: [] });
  });
});
