import type { z } from 'zod';
import { ChuteError } from '../errors.ts';
import {
  type ChuteConfig,
  type ChuteConfigInput,
  ChuteConfigSchema,
  type Route,
  RouteSchema,
} from './schema.ts';

/** `routes[0].format: Invalid option: expected one of "csv"|"tsv"|"ndjson"` — one line per problem. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path
        .map((part, i) =>
          typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`,
        )
        .join('');
      return `${path || '(root)'}: ${issue.message}`;
    })
    .join('; ');
}

export function parseConfig(input: unknown, source = 'configuration'): ChuteConfig {
  const result = ChuteConfigSchema.safeParse(input);
  if (!result.success) {
    throw new ChuteError('CONFIG_INVALID', `Invalid ${source}: ${formatIssues(result.error)}`, {
      cause: result.error,
    });
  }
  return result.data;
}

export function parseRoute(input: unknown, source = 'route'): Route {
  const result = RouteSchema.safeParse(input);
  if (!result.success) {
    throw new ChuteError('CONFIG_INVALID', `Invalid ${source}: ${formatIssues(result.error)}`, {
      cause: result.error,
    });
  }
  return result.data;
}

/**
 * The Lambda's and the local runner's configuration: routes and tuning from `CHUTE_CONFIG` (JSON),
 * the connection from `CLICKHOUSE_URL` / `CLICKHOUSE_USER` / `CLICKHOUSE_PASSWORD` / `CLICKHOUSE_DATABASE`,
 * which override the JSON.
 */
export function configFromEnv(env: NodeJS.ProcessEnv): ChuteConfig {
  const raw = env.CHUTE_CONFIG;
  if (raw === undefined || raw.trim() === '') {
    throw new ChuteError(
      'CONFIG_INVALID',
      'Invalid environment: CHUTE_CONFIG is not set (JSON with "routes")',
    );
  }
  const json = configJson(raw) as Partial<ChuteConfigInput>;
  const clickhouse: Record<string, unknown> = { ...(json.clickhouse ?? {}) };
  if (env.CLICKHOUSE_URL) clickhouse.url = env.CLICKHOUSE_URL;
  if (env.CLICKHOUSE_USER) clickhouse.username = env.CLICKHOUSE_USER;
  if (env.CLICKHOUSE_PASSWORD !== undefined) clickhouse.password = env.CLICKHOUSE_PASSWORD;
  if (env.CLICKHOUSE_DATABASE) clickhouse.database = env.CLICKHOUSE_DATABASE;
  return parseConfig({ ...json, clickhouse }, 'CHUTE_CONFIG');
}

/** CHUTE_CONFIG's text as a JSON object, or CONFIG_INVALID saying what it is instead. */
export function configJson(raw: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (cause) {
    throw new ChuteError(
      'CONFIG_INVALID',
      `Invalid environment: CHUTE_CONFIG is not valid JSON (${String(cause)})`,
      { cause },
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ChuteError(
      'CONFIG_INVALID',
      'Invalid environment: CHUTE_CONFIG must be a JSON object with "routes"',
    );
  }
  return parsed as Record<string, unknown>;
}
