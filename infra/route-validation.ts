import type { z } from 'zod';
import { parseConfig } from '../functions/core/config/parse.ts';
import { routeName } from '../functions/core/config/routes.ts';
import type { ChunkingSchema, ChuteConfig, Route, RouteInput } from '../functions/core/config/schema.ts';
import { ChuteError } from '../functions/core/errors.ts';

/**
 * Synth-time checks of a chute deployment's routes: everything that would otherwise fail at deploy time
 * (S3 refusing the notification configuration) or at run time (the function refusing its configuration,
 * or loading its own rejects forever) fails `cdk synth` here, with a message naming the route.
 *
 * Pure functions: no constructs, so they are tested directly.
 */

/** What the construct validates: the function's configuration minus the credentials. */
export interface IngestConfigInput {
  /** ClickHouse HTTP(S) URL; must not embed credentials. */
  readonly clickHouseUrl: string;
  /** Database for unqualified table names. */
  readonly clickHouseDatabase?: string | undefined;
  readonly routes: readonly RouteInput[];
  readonly rejectsPrefix?: string | undefined;
  readonly chunking?: z.input<typeof ChunkingSchema> | undefined;
  /** The load-history table. */
  readonly ledgerTable?: string | undefined;
  /** `s3.verifyChecksums`: verify GetObject bodies against S3's stored checksum (default: the SDK's, on). */
  readonly verifyS3Checksums?: boolean | undefined;
}

/** Where messages say the problem comes from. */
export const PROPS_SOURCE = 'ChuteIngest props';

/**
 * Characters a route prefix or suffix may use. S3 matches notification filters against the key as stored,
 * but wants "special characters" in filter values percent-encoded, and IAM treats `*` and `?` in resource
 * ARNs as wildcards. Keeping to S3's documented safe characters means the filter, the IAM resource and the
 * function's own matching all see the same string.
 */
const SAFE_FILTER_CHARACTERS = /^[A-Za-z0-9!\-_.'()/]*$/;

/** `routes[1] "orders" (prefix "orders/", suffix ".csv")`: how messages name a route. */
export function describeRoute(route: Route, index: number): string {
  const prefix = route.prefix === '' ? 'every key' : `prefix "${route.prefix}"`;
  const suffix = route.suffix === undefined ? 'any suffix' : `suffix "${route.suffix}"`;
  return `routes[${index}] "${routeName(route)}" (${prefix}, ${suffix})`;
}

/**
 * Whether S3 would refuse two object-created notifications with these filters: it does when one prefix
 * is a prefix of the other (an empty prefix is a prefix of everything) and one suffix is a suffix of the
 * other (likewise), because some key would then match both.
 */
export function filtersOverlap(
  a: { prefix: string; suffix?: string | undefined },
  b: { prefix: string; suffix?: string | undefined },
): boolean {
  const prefixesNest = a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix);
  const sa = a.suffix ?? '';
  const sb = b.suffix ?? '';
  const suffixesNest = sa.endsWith(sb) || sb.endsWith(sa);
  return prefixesNest && suffixesNest;
}

/** Every pair of routes S3 would refuse together, as index pairs `[i, j]` with `i < j`. */
export function findOverlappingRoutes(
  routes: readonly { prefix: string; suffix?: string | undefined }[],
): [number, number][] {
  const pairs: [number, number][] = [];
  routes.forEach((a, i) => {
    routes.forEach((b, j) => {
      if (j > i && filtersOverlap(a, b)) pairs.push([i, j]);
    });
  });
  return pairs;
}

function fail(message: string): never {
  throw new ChuteError('CONFIG_INVALID', `Invalid ${PROPS_SOURCE}: ${message}`);
}

/** Refuses characters the S3 filter, the IAM resource and the function could read differently. */
export function checkFilterCharacters(routes: readonly Route[], rejectsPrefix: string): void {
  routes.forEach((route, index) => {
    for (const [field, value] of [
      ['prefix', route.prefix],
      ['suffix', route.suffix ?? ''],
    ] as const) {
      if (!SAFE_FILTER_CHARACTERS.test(value)) {
        fail(
          `routes[${index}].${field} "${value}" (route "${routeName(route)}") has characters outside A-Z a-z 0-9 ! - _ . ' ( ) /: S3 notification filters need such characters percent-encoded and IAM reads * and ? as wildcards, so the route could silently never fire. Rename the prefix or suffix`,
        );
      }
    }
  });
  if (!SAFE_FILTER_CHARACTERS.test(rejectsPrefix)) {
    fail(
      `rejectsPrefix "${rejectsPrefix}" has characters outside A-Z a-z 0-9 ! - _ . ' ( ) /: it is used in an IAM resource and a lifecycle filter`,
    );
  }
}

/** S3 refuses overlapping filters for one event type when the stack deploys: refuse them now instead. */
export function checkNoOverlaps(routes: readonly Route[]): void {
  const overlaps = findOverlappingRoutes(routes);
  if (overlaps.length === 0) return;
  const lines = overlaps.map(([i, j]) => {
    const a = routes[i] as Route;
    const b = routes[j] as Route;
    return `${describeRoute(a, i)} overlaps ${describeRoute(b, j)}`;
  });
  fail(
    `${lines.join('; ')}. S3 refuses two object-created notifications when one prefix starts the other and one suffix ends the other (some key would match both); give the routes disjoint prefixes, or suffixes that do not end one another`,
  );
}

/** The URL goes into a plain environment variable: credentials belong in the secret. */
export function checkUrlHasNoCredentials(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return; // parseConfig reports the malformed URL with its field name
  }
  if (parsed.username !== '' || parsed.password !== '') {
    fail(
      'clickHouseUrl embeds credentials: it becomes a plain environment variable. Put username and password in the Secrets Manager secret (clickHouseSecret) and leave them out of the URL',
    );
  }
}

/**
 * Validates the function's whole configuration with the schema the function itself parses at cold start
 * (so a route it would refuse fails `cdk synth`), then the checks only S3 and IAM care about.
 * Throws ChuteError `CONFIG_INVALID` with a message naming the route and field.
 */
export function validateIngestConfig(input: IngestConfigInput): ChuteConfig {
  checkUrlHasNoCredentials(input.clickHouseUrl);
  const config = parseConfig(
    {
      clickhouse: {
        url: input.clickHouseUrl,
        ...(input.clickHouseDatabase === undefined ? {} : { database: input.clickHouseDatabase }),
      },
      routes: input.routes,
      ...(input.rejectsPrefix === undefined ? {} : { rejects: { prefix: input.rejectsPrefix } }),
      ...(input.chunking === undefined ? {} : { chunking: input.chunking }),
      ...(input.ledgerTable === undefined ? {} : { ledger: { table: input.ledgerTable } }),
      ...(input.verifyS3Checksums === undefined ? {} : { s3: { verifyChecksums: input.verifyS3Checksums } }),
    },
    PROPS_SOURCE,
  );
  checkFilterCharacters(config.routes, config.rejects.prefix);
  checkNoOverlaps(config.routes);
  return config;
}

/**
 * The `CHUTE_CONFIG` environment variable: routes, rejects, chunking and the ledger, the `s3` section only
 * when it says something, never the `clickhouse` section (the URL and database come from their own
 * variables, the credentials from the secret). Routes are passed as the user wrote them, already validated:
 * the function fills the same defaults from the same schema in its bundle, and the short form leaves room
 * under Lambda's 4 KB environment limit for more routes.
 */
export function functionConfigJson(input: IngestConfigInput, config: ChuteConfig): string {
  return JSON.stringify({
    routes: input.routes,
    rejects: config.rejects,
    chunking: config.chunking,
    ledger: config.ledger,
    ...(config.s3.verifyChecksums === undefined
      ? {}
      : { s3: { verifyChecksums: config.s3.verifyChecksums } }),
  });
}

/** Lambda refuses a function whose environment variables total more than 4 KB. */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/** Fails synth when the environment would make the deployment fail, saying what takes the space. */
export function checkEnvironmentSize(environment: Readonly<Record<string, string>>): void {
  const entries = Object.entries(environment);
  const total = entries.reduce(
    (sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(value),
    0,
  );
  if (total > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
    const configBytes = Buffer.byteLength(environment.CHUTE_CONFIG ?? '');
    fail(
      `the function's environment would be ${total} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit (CHUTE_CONFIG alone is ${configBytes} bytes). Use fewer routes or shorter names, or split the routes across two ChuteIngest constructs (each with its own bucket; each gets its own metrics dimension and alarms)`,
    );
  }
}
