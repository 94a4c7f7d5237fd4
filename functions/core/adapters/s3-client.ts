import { S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../config/schema.ts';

export interface S3ClientOptions {
  /** An S3-compatible endpoint (a local s3rver, MinIO); default: AWS, or AWS_ENDPOINT_URL_S3. */
  endpoint?: string | undefined;
  region?: string | undefined;
  forcePathStyle?: boolean | undefined;
  /** Fixed credentials (a local server's); default: the SDK's chain (Lambda role, environment, profile). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /**
   * Verify GetObject bodies against the checksum S3 stored (config `s3.verifyChecksums`). Default: the
   * client's default for the endpoint, on against AWS, off against a custom one.
   */
  verifyChecksums?: boolean | undefined;
  /**
   * A request whose socket carries nothing for this long fails (a GET that never answers, a body that stops
   * arriving, an upload that hangs): the file then fails with a reason, in time to be said, instead of the
   * function's own timeout ending it unsaid. Long enough for the reader's own pauses (it stops reading while
   * ClickHouse is behind): ClickHouse's request timeout. Default 300000.
   */
  stallTimeoutMs?: number | undefined;
  /**
   * A request not answered (its response headers) this long after it was sent fails, and the SDK tries it again
   * (three attempts in all): an upload's body is sent within it. Default 60000.
   */
  answerTimeoutMs?: number | undefined;
  /** Connecting to S3 fails after this long. Default 10000. */
  connectTimeoutMs?: number | undefined;
}

const DEFAULT_ANSWER_TIMEOUT_MS = 60_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * One S3 client per container.
 *
 * Uploads: against a custom endpoint, checksums are computed only when S3 requires them, because
 * S3-compatible servers reject the aws-chunked uploads that flexible checksums produce.
 *
 * Downloads: verifying a GetObject body means asking S3 for the stored checksum and running every byte
 * through it. Objects uploaded without a checksum since December 2024 carry a CRC64-NVME one, which the SDK computes in
 * JavaScript (one GET stream at about half its rate on the bench machine: BENCHMARKS.md), while HTTPS already
 * protects the bytes in transit; so it can be turned off. Left unset, AWS gets the SDK's default (verify,
 * unless `AWS_RESPONSE_CHECKSUM_VALIDATION` says otherwise) and a custom endpoint does not verify: local
 * servers send no checksums.
 */
export function createS3Client(options: S3ClientOptions = {}): S3Client {
  const custom = options.endpoint !== undefined;
  const responseChecksumValidation = responseValidation(options.verifyChecksums, custom);
  return new S3Client({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(custom
      ? {
          endpoint: options.endpoint,
          forcePathStyle: options.forcePathStyle ?? true,
          requestChecksumCalculation: 'WHEN_REQUIRED',
        }
      : { forcePathStyle: options.forcePathStyle ?? false }),
    ...(responseChecksumValidation === undefined ? {} : { responseChecksumValidation }),
    // The SDK's handler has no timeout of its own: a stalled request would wait for the function's timeout.
    requestHandler: {
      socketTimeout: options.stallTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      requestTimeout: options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS,
      throwOnRequestTimeout: true,
      connectionTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    },
  });
}

/** `undefined` leaves the SDK's own default (and `AWS_RESPONSE_CHECKSUM_VALIDATION`) in charge. */
function responseValidation(
  verify: boolean | undefined,
  custom: boolean,
): 'WHEN_SUPPORTED' | 'WHEN_REQUIRED' | undefined {
  if (verify === undefined) return custom ? 'WHEN_REQUIRED' : undefined;
  return verify ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
}
