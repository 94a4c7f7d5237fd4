import * as z from 'zod';

/**
 * ClickHouse's request timeout (`clickhouse.requestTimeoutMs`), also what the pipeline and the S3 client
 * fall back to when they are given none.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;

/**
 * The one definition of chute's configuration. The Lambda parses it at cold start, the CLI and the local
 * runner build it from flags, and the CDK construct validates its props against it at synth time, so a
 * route that would fail in the function fails `cdk synth` first.
 */

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `table` or `database.table`, each part a plain identifier (no quoting needed, nothing to inject). */
export const TableNameSchema = z
  .string()
  .regex(
    /^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$/,
    'must be "table" or "database.table" made of letters, digits and underscores',
  );

export const ColumnNameSchema = z
  .string()
  .regex(PLAIN_IDENTIFIER, 'must be made of letters, digits and underscores, not starting with a digit');

export const FORMATS = ['csv', 'tsv', 'ndjson'] as const;
export const COMPRESSIONS = ['auto', 'gzip', 'none'] as const;

export const BadRowsSchema = z
  .object({
    /** `reject`: bad rows go to the rejects object and the file goes on; `fail`: the first bad row fails the file. */
    policy: z.enum(['reject', 'fail']).default('reject'),
    /** More rejected rows than this fails the whole file. Default 1000. */
    maxRejectedRows: z.number().int().min(0).default(1000),
  })
  .strict();

export const RouteSchema = z
  .object({
    /** A short name for logs, metrics and the ledger. Default: the prefix, or the table. */
    name: z.string().min(1).max(64).optional(),
    /** Key prefix this route takes. Default '' (every key). */
    prefix: z.string().default(''),
    /** Optional key suffix, such as `.csv.gz`. */
    suffix: z.string().min(1).optional(),
    /** Target table, `table` or `database.table`. */
    table: TableNameSchema,
    format: z.enum(FORMATS),
    /** CSV only: one-character field delimiter. Default `,`. */
    delimiter: z.string().length(1).optional(),
    /** CSV/TSV: the first line names the columns. Default true. */
    header: z.boolean().default(true),
    /** CSV/TSV without a header: the columns, in file order. */
    columns: z.array(ColumnNameSchema).min(1).optional(),
    /** auto: gzip by magic bytes, then by `.gz` extension; otherwise as stored. Default auto. */
    compression: z.enum(COMPRESSIONS).default('auto'),
    /** What a header column the table lacks does: fail the file (default) or be ignored. */
    extraColumns: z.enum(['fail', 'ignore']).default('fail'),
    badRows: BadRowsSchema.prefault({}),
    /**
     * exactly-once (default): the table must deduplicate (Replicated/Shared engines, or MergeTree with
     * non_replicated_deduplication_window > 0), or the file fails with the setting to add. at-least-once: load
     * anyway, and say so in every summary line.
     */
    delivery: z.enum(['exactly-once', 'at-least-once']).default('exactly-once'),
  })
  .strict()
  .superRefine((route, ctx) => {
    if (route.format !== 'csv' && route.delimiter !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['delimiter'], message: 'is only for format "csv"' });
    }
    if (route.delimiter !== undefined && /["\r\n]/.test(route.delimiter)) {
      ctx.addIssue({ code: 'custom', path: ['delimiter'], message: 'cannot be a quote or a line break' });
    }
    if (route.format === 'ndjson' && route.columns !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['columns'],
        message: 'is not used by format "ndjson" (keys name the columns)',
      });
    }
    if (route.format !== 'ndjson' && !route.header && route.columns === undefined) {
      ctx.addIssue({ code: 'custom', path: ['columns'], message: 'is required when header is false' });
    }
    if (route.format !== 'ndjson' && route.header && route.columns !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['columns'],
        message: 'conflicts with header: true (the header names the columns)',
      });
    }
  });

export const ClickHouseSchema = z
  .object({
    /** HTTP(S) URL of the server, for example `http://127.0.0.1:8123`. Credentials may be embedded. */
    url: z.url({ protocol: /^https?$/ }),
    username: z.string().optional(),
    password: z.string().optional(),
    /** Database for unqualified table names. Default: the one in the URL path, else `default`. */
    database: ColumnNameSchema.optional(),
    /** Sockets one container may hold open to ClickHouse. Default 4. */
    maxOpenConnections: z.number().int().min(1).max(64).default(4),
    /**
     * Idle sockets are dropped after this many ms, below the server's keep-alive timeout (3 s on ClickHouse
     * Cloud and servers before 23.11). Default 2000.
     */
    idleSocketTtlMs: z.number().int().min(100).max(60_000).default(2000),
    /** Socket inactivity allowed during one request, in ms. Default 300000. */
    requestTimeoutMs: z.number().int().min(1000).default(DEFAULT_REQUEST_TIMEOUT_MS),
  })
  .strict();

export const RejectsSchema = z
  .object({
    /** Where rejected rows are written: `<prefix><source key>@<version>.rejects.ndjson`. Default `chute-rejects/`. */
    prefix: z.string().min(1).default('chute-rejects/'),
  })
  .strict();

export const ChunkingSchema = z
  .object({
    /**
     * An insert closes at the first record boundary past this many bytes. Default 16 MiB: inserts stream while
     * their chunk fills, so one buffer of this size is all a clean file holds; half as many chunk boundaries
     * as 8 MiB were 10-15% faster in a scratch loader (BENCHMARKS.md), a few points in chute's full runs. On servers that parse in parallel chute raises the parsing
     * unit past this size, so one insert stays one atomic block.
     */
    maxBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(16 * 1024 * 1024),
    /** An insert closes at this many rows. Default 500000 (a block holds at most 1048576). */
    maxRows: z.number().int().min(1).max(1_000_000).default(500_000),
    /** A record longer than this is rejected (a runaway quote), so memory stays bounded. Default 1 MiB. */
    maxRecordBytes: z
      .number()
      .int()
      .min(64)
      .max(16 * 1024 * 1024)
      .default(1024 * 1024),
    /**
     * Chunks inserting at once. With two, the next chunk is read and sent while ClickHouse finishes parsing the
     * one before and writes its part, a tail of 40-60 ms a chunk in which one insert at a time reads nothing:
     * +15-20% throughput in alternated bench runs, for a second chunk buffer (peak RSS 117-123 MiB against
     * 99-102 when measured, 112-115 since; flat in object size since the buffers are made whole once per
     * container, in Lambda's init; files with bad rows use two buffers either way). Where inserts carry no
     * deduplication token (at-least-once delivery), a failure can repeat up to this many chunks; under
     * exactly-once the table must remember insertsInFlight + 2 tokens. Default 2.
     */
    insertsInFlight: z.number().int().min(1).max(4).default(2),
  })
  .strict();

export const LedgerSchema = z
  .object({
    /** The load history's name, `table` or `database.table`: rows go to `<table>_log`, read through the views `<table>` and `<table>_chunks`. Default `chute_load_history`. */
    table: TableNameSchema.default('chute_load_history'),
  })
  .strict();

export const S3Schema = z
  .object({
    /**
     * Whether the S3 client asks for the object's stored checksum on every GetObject and verifies the body
     * against it as it streams. S3 gives every new object uploaded without a checksum (since December 2024) a CRC64-NVME one, which the
     * SDK computes in JavaScript: one GET stream ran at about half its rate with it on the bench machine (BENCHMARKS.md). HTTPS
     * already protects the bytes in transit; turning this off gives up the end-to-end check against what S3
     * stored, for CPU. Default: unset, the client's default for the endpoint: on against AWS S3 (the SDK's
     * own default, which `AWS_RESPONSE_CHECKSUM_VALIDATION` can change), off against a custom endpoint such as
     * `AWS_ENDPOINT_URL_S3`, because local and S3-compatible servers send no checksums.
     */
    verifyChecksums: z.boolean().optional(),
  })
  .strict();

export const ChuteConfigSchema = z
  .object({
    clickhouse: ClickHouseSchema,
    // prefault: a section left out is parsed from {}, so its own field defaults are its only defaults.
    ledger: LedgerSchema.prefault({}),
    routes: z.array(RouteSchema).min(1, 'needs at least one route'),
    rejects: RejectsSchema.prefault({}),
    chunking: ChunkingSchema.prefault({}),
    s3: S3Schema.default({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    config.routes.forEach((route, index) => {
      if (routeCanMatchRejects(route, config.rejects.prefix)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', index, 'prefix'],
          message: `"${route.prefix}" (suffix ${route.suffix === undefined ? 'none' : `"${route.suffix}"`}) can match rejects objects under "${config.rejects.prefix}": they would be loaded again (a loop). Give routes and rejects disjoint prefixes`,
        });
      }
    });
  });

/** Rejects objects are written as `<rejects prefix><source key>` + this. */
export const REJECTS_SUFFIX = '.rejects.ndjson';

/** Whether some rejects object key could be taken by this route: the loop S3 would happily run forever. */
export function routeCanMatchRejects(
  route: { prefix: string; suffix?: string | undefined },
  rejectsPrefix: string,
): boolean {
  const prefixesOverlap = rejectsPrefix.startsWith(route.prefix) || route.prefix.startsWith(rejectsPrefix);
  if (!prefixesOverlap) return false;
  const suffix = route.suffix;
  return suffix === undefined || REJECTS_SUFFIX.endsWith(suffix) || suffix.endsWith(REJECTS_SUFFIX);
}

export type RouteInput = z.input<typeof RouteSchema>;
export type Route = z.output<typeof RouteSchema>;
export type ChuteConfigInput = z.input<typeof ChuteConfigSchema>;
export type ChuteConfig = z.output<typeof ChuteConfigSchema>;
export type ClickHouseConfig = z.output<typeof ClickHouseSchema>;
export type ChunkingConfig = z.output<typeof ChunkingSchema>;
export type DataFormat = (typeof FORMATS)[number];
export type Compression = (typeof COMPRESSIONS)[number];
