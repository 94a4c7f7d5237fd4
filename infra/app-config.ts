import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import * as z from 'zod';
import { formatIssues } from '../functions/core/config/parse.ts';
import { ChunkingSchema } from '../functions/core/config/schema.ts';
import { ChuteError } from '../functions/core/errors.ts';

/**
 * The ready app's configuration: a small JSON file (`chute:configFile` in the CDK context; the example is
 * infra/chute.config.example.json), whose top-level values any `-c chute:<key>=<value>` overrides.
 *
 *     npx cdk deploy -c chute:configFile=chute.config.json
 *     npx cdk deploy -c chute:clickHouseUrl=https://... -c chute:clickHouseSecretArn=arn:aws:secretsmanager:...
 *
 * Routes are checked here only for shape; the construct checks them against the function's own schema.
 */

/** `arn:aws:secretsmanager:<region>:<account>:secret:<name>` (complete with its 6-character suffix, or not). */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

export const AppConfigSchema = z
  .object({
    /** CloudFormation stack name. Default `Chute`. */
    stackName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'must start with a letter; letters, digits and "-" only')
      .default('Chute'),
    /** AWS account and region; default: the CLI's (CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION), if any. */
    account: z
      .string()
      .regex(/^\d{12}$/, 'must be a 12-digit account id')
      .optional(),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be a region such as eu-west-1')
      .optional(),
    clickHouseUrl: z.string().min(1),
    clickHouseDatabase: z.string().min(1).optional(),
    /** ARN of the Secrets Manager secret `{"username": ..., "password": ...}`. */
    clickHouseSecretArn: z
      .string()
      .regex(
        SECRET_ARN,
        'must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)',
      ),
    /** Routes as in RouteSchema; the construct validates each with the function's schema. */
    routes: z.array(z.record(z.string(), z.unknown())).min(1, 'needs at least one route'),
    rejectsPrefix: z.string().min(1).optional(),
    chunking: ChunkingSchema.partial().optional(),
    /** The construct's `verifyS3Checksums`: `false` skips the SDK's CRC64-NVME check of each GET. Default: verified. */
    verifyS3Checksums: z.boolean().optional(),
    /** Watch this existing bucket instead of creating one. */
    existingBucketName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name')
      .optional(),
    alarmEmail: z.email().optional(),
    memorySize: z.number().int().optional(),
    timeoutSeconds: z.number().int().optional(),
    reservedConcurrency: z.number().int().optional(),
    retryAttempts: z.number().int().optional(),
    maxEventAgeSeconds: z.number().int().optional(),
    ingestLagThresholdMinutes: z.number().positive().optional(),
    noFilesLoadedForHours: z.number().int().optional(),
    runbookUrl: z.url().optional(),
  })
  .strict();

export type AppConfig = z.output<typeof AppConfigSchema>;

/** The context keys the app reads (each also settable with `-c`). */
export const CONTEXT_PREFIX = 'chute:';
export const CONFIG_FILE_CONTEXT = `${CONTEXT_PREFIX}configFile`;

/** Values the example file ships with: they synthesize, but deploy a function that cannot connect. */
export const PLACEHOLDER_MARKERS = ['clickhouse.example.com', ':123456789012:'] as const;

export interface ContextReader {
  tryGetContext(key: string): unknown;
}

function fail(message: string): never {
  throw new ChuteError('CONFIG_INVALID', message);
}

/** Keys whose values are numbers, booleans, arrays or objects: given with `-c` they arrive as strings of JSON. */
const JSON_VALUED_KEYS = new Set([
  'routes',
  'chunking',
  'verifyS3Checksums',
  'memorySize',
  'timeoutSeconds',
  'reservedConcurrency',
  'retryAttempts',
  'maxEventAgeSeconds',
  'ingestLagThresholdMinutes',
  'noFilesLoadedForHours',
]);

/** A `-c` value: JSON-valued keys are parsed, the others (account ids, ARNs, URLs) stay strings. */
function contextValue(raw: unknown, key: string): unknown {
  if (typeof raw !== 'string' || !JSON_VALUED_KEYS.has(key)) return raw;
  try {
    return JSON.parse(raw);
  } catch (cause) {
    fail(`Invalid context ${CONTEXT_PREFIX}${key}: not valid JSON (${String(cause)})`);
  }
}

/**
 * Reads the config file named by `chute:configFile` (relative to `cwd`), applies `chute:<key>` context
 * overrides, and validates the result. Throws ChuteError `CONFIG_INVALID` naming the file or key.
 */
export function readAppConfig(context: ContextReader, cwd = process.cwd()): AppConfig {
  const fileSetting = context.tryGetContext(CONFIG_FILE_CONTEXT);
  let fromFile: Record<string, unknown> = {};
  let source = 'context';
  if (fileSetting !== undefined) {
    if (typeof fileSetting !== 'string' || fileSetting === '') {
      fail(`Invalid context ${CONFIG_FILE_CONTEXT}: must be a file path`);
    }
    const path = isAbsolute(fileSetting) ? fileSetting : resolve(cwd, fileSetting);
    if (!existsSync(path)) {
      fail(`Config file ${path} (context ${CONFIG_FILE_CONTEXT}) does not exist`);
    }
    try {
      fromFile = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (cause) {
      fail(`Config file ${path} is not valid JSON (${String(cause)})`);
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
      fail(`Config file ${path} must hold a JSON object`);
    }
    source = `config file ${fileSetting} with context overrides`;
  }
  const merged: Record<string, unknown> = { ...fromFile };
  for (const key of Object.keys(AppConfigSchema.shape)) {
    const raw = context.tryGetContext(`${CONTEXT_PREFIX}${key}`);
    if (raw !== undefined) merged[key] = contextValue(raw, key);
  }
  const result = AppConfigSchema.safeParse(merged);
  if (!result.success) {
    fail(
      `Invalid chute app configuration (${source}): ${formatIssues(result.error)}. Set values in the config file or with -c ${CONTEXT_PREFIX}<key>=<value>`,
    );
  }
  return result.data;
}

/** Whether the configuration still holds the example's placeholder URL or secret ARN. */
export function usesPlaceholders(config: AppConfig): boolean {
  return PLACEHOLDER_MARKERS.some(
    (marker) => config.clickHouseUrl.includes(marker) || config.clickHouseSecretArn.includes(marker),
  );
}
