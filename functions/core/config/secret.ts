import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { ChuteError } from '../errors.ts';
import { formatIssues } from './parse.ts';

/**
 * ClickHouse credentials live in one Secrets Manager secret, a JSON string
 * `{ "username": "...", "password": "..." }`. Other keys (host, port, engine: what the console's
 * "other type of secret" template or a rotation function may add) are allowed and ignored.
 */
export const ClickHouseSecretSchema = z.looseObject({
  username: z.string().min(1, 'must be a non-empty string'),
  /** May be empty: a local server's `default` user has no password. */
  password: z.string(),
});

export interface ClickHouseCredentials {
  username: string;
  password: string;
}

/** SDK errors that retrying will not fix: the ARN, the policy or the key is wrong. */
const PERMANENT_SDK_ERRORS = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'DecryptionFailure',
  'InvalidRequestException',
  'InvalidParameterException',
  'UnrecognizedClientException',
]);

let defaultClient: SecretsManagerClient | undefined;

/** The region in a secret ARN (`arn:aws:secretsmanager:<region>:...`), if it is one. */
export function secretRegion(secretArn: string): string | undefined {
  const match = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):/.exec(secretArn);
  return match?.[1];
}

/**
 * One client per container, created on first use, in the secret's own region (so a secret kept in another
 * region than the function still resolves); credentials from the Lambda environment.
 */
function sharedClient(secretArn: string): SecretsManagerClient {
  const region = secretRegion(secretArn);
  defaultClient ??= new SecretsManagerClient(region === undefined ? {} : { region });
  return defaultClient;
}

/**
 * Reads and validates the ClickHouse credentials secret. Call it once per container (outside the
 * per-event path) and keep the result: Secrets Manager bills per call and throttles bursts.
 *
 * Never logs or echoes the secret's values: error messages name the secret and the field only.
 *
 * @throws ChuteError `CONFIG_INVALID` when the secret is missing, unreadable with the function's
 *   permissions, binary, not JSON, or lacks `username` / `password`. Transient SDK errors (throttling,
 *   5xx, network) are rethrown unchanged so the invocation fails and Lambda retries it.
 */
export async function readClickHouseSecret(
  secretArn: string,
  client?: SecretsManagerClient,
): Promise<ClickHouseCredentials> {
  if (secretArn.trim() === '') {
    throw new ChuteError(
      'CONFIG_INVALID',
      'Invalid environment: CLICKHOUSE_SECRET_ARN is empty (the ARN of the ClickHouse credentials secret)',
    );
  }
  const sm = client ?? sharedClient(secretArn);

  let secretString: string | undefined;
  try {
    const output = await sm.send(new GetSecretValueCommand({ SecretId: secretArn }));
    secretString = output.SecretString;
  } catch (cause) {
    const name = cause instanceof Error ? cause.name : '';
    if (PERMANENT_SDK_ERRORS.has(name)) {
      throw new ChuteError(
        'CONFIG_INVALID',
        `Cannot read ClickHouse secret ${secretArn}: ${name} (${cause instanceof Error ? cause.message : String(cause)}). Check the ARN and that the function's role may call secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)`,
        { cause },
      );
    }
    throw cause;
  }

  if (secretString === undefined) {
    throw new ChuteError(
      'CONFIG_INVALID',
      `Invalid ClickHouse secret ${secretArn}: it has no SecretString (binary secrets are not supported); store JSON {"username": ..., "password": ...}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    // The parser's message can quote the secret's text: leave it out.
    throw new ChuteError(
      'CONFIG_INVALID',
      `Invalid ClickHouse secret ${secretArn}: SecretString is not JSON; store {"username": ..., "password": ...}`,
    );
  }
  const result = ClickHouseSecretSchema.safeParse(json);
  if (!result.success) {
    // Zod's issue messages name the field and the expected type, never the received value.
    throw new ChuteError(
      'CONFIG_INVALID',
      `Invalid ClickHouse secret ${secretArn}: ${formatIssues(result.error)}`,
    );
  }
  return { username: result.data.username, password: result.data.password };
}
