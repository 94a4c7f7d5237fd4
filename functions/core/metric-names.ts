/**
 * CloudWatch names shared by the function (which publishes them as EMF) and the CDK stack (which alarms on
 * them and draws them). Change a name here and both sides follow.
 */
export const METRICS_NAMESPACE = 'Chute';
export const METRICS_SERVICE = 'chute';

export const MetricName = {
  FilesLoaded: 'FilesLoaded',
  FilesFailed: 'FilesFailed',
  FilesSkipped: 'FilesSkipped',
  /**
   * Skipped because the event's object version no longer exists: in a bucket without versioning, overwritten
   * or deleted before its event was handled (in a versioned one, that version deleted), so its rows were not
   * loaded, or only the chunks an earlier attempt committed. Counted in FilesSkipped too.
   */
  FilesGone: 'FilesGone',
  BytesRead: 'BytesRead',
  RowsInserted: 'RowsInserted',
  RowsRejected: 'RowsRejected',
  /** Seconds from the S3 event time to the end of the load. */
  IngestLagSeconds: 'IngestLagSeconds',
  FileDurationMs: 'FileDurationMs',
} as const;
