import { S3Client } from '@aws-sdk/client-s3';

export interface S3ClientOptions {
  /** An S3-compatible endpoint (a local s3rver, MinIO); default: AWS, or AWS_ENDPOINT_URL_S3. */
  endpoint?: string | undefined;
  region?: string | undefined;
  forcePathStyle?: boolean | undefined;
  /** Fixed credentials (a local server's); default: the SDK's chain (Lambda role, environment, profile). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

/**
 * One S3 client per container. Against a custom endpoint, checksums are computed only when S3 requires them:
 * S3-compatible servers reject the aws-chunked uploads that flexible checksums produce.
 */
export function createS3Client(options: S3ClientOptions = {}): S3Client {
  const custom = options.endpoint !== undefined;
  return new S3Client({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(custom
      ? {
          endpoint: options.endpoint,
          forcePathStyle: options.forcePathStyle ?? true,
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        }
      : { forcePathStyle: options.forcePathStyle ?? false }),
  });
}
