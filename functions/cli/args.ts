import { parseArgs } from 'node:util';
import { formatIssues, parseRoute } from '../core/config/parse.ts';
import { type ChunkingConfig, ChunkingSchema, type Route } from '../core/config/schema.ts';
import { ChuteError } from '../core/errors.ts';

export interface IngestCommand {
  readonly command: 'ingest';
  readonly source: { kind: 'file'; path: string } | { kind: 's3'; bucket: string; key: string };
  readonly route: Route;
  readonly chunking: ChunkingConfig;
  readonly rejects: string | undefined;
  readonly versionId: string | undefined;
  readonly s3Endpoint: string | undefined;
  readonly quiet: boolean;
  /** The load-history table; undefined with --no-ledger. */
  readonly ledger: string | undefined;
  readonly delivery: 'exactly-once' | 'at-least-once';
}

export interface HistoryCommand {
  readonly command: 'history';
  readonly ledger: string;
  readonly failedOnly: boolean;
  /** Only attempts that finished at or after this time. */
  readonly since: Date | undefined;
  readonly key: string | undefined;
  readonly limit: number;
  readonly json: boolean;
}

export type Command = IngestCommand | HistoryCommand | { readonly command: 'help' };

export const DEFAULT_LEDGER = 'chute_load_history';

/** Every option the parser takes (`--help` lists each: a unit test holds it to that). */
export const OPTIONS = {
  table: { type: 'string' },
  format: { type: 'string' },
  delimiter: { type: 'string' },
  'no-header': { type: 'boolean' },
  columns: { type: 'string' },
  compression: { type: 'string' },
  'extra-columns': { type: 'string' },
  'bad-rows': { type: 'string' },
  'max-rejected': { type: 'string' },
  rejects: { type: 'string' },
  'chunk-bytes': { type: 'string' },
  'chunk-rows': { type: 'string' },
  'max-record-bytes': { type: 'string' },
  'inserts-in-flight': { type: 'string' },
  'version-id': { type: 'string' },
  's3-endpoint': { type: 'string' },
  quiet: { type: 'boolean' },
  ledger: { type: 'string' },
  'no-ledger': { type: 'boolean' },
  'at-least-once': { type: 'boolean' },
  failed: { type: 'boolean' },
  since: { type: 'string' },
  key: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(message: string): ChuteError {
  return new ChuteError('USAGE', `${message} (see --help)`);
}

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw usage(`--${name} must be a whole number, got "${value}"`);
  return parsed;
}

/** Rejects go where the rows come from: a local path for a local file, an S3 prefix for an S3 object. */
function checkRejectsTarget(rejects: string, source: 'file' | 's3'): void {
  const toS3 = rejects.startsWith('s3://');
  if (source === 'file' && toS3)
    throw usage(`--rejects "${rejects}": a local file's rejects go to a local path`);
  if (source === 's3' && !/^s3:\/\/[^/]+\/.*$/.test(rejects))
    throw usage(`--rejects "${rejects}": an S3 object's rejects go to s3://<bucket>/<prefix>/`);
}

/** The format from the file name, `.gz` aside. */
export function formatFromName(name: string): Route['format'] | undefined {
  const base = name.toLowerCase().replace(/\.(gz|gzip)$/, '');
  if (base.endsWith('.csv')) return 'csv';
  if (base.endsWith('.tsv') || base.endsWith('.tab')) return 'tsv';
  if (base.endsWith('.ndjson') || base.endsWith('.jsonl')) return 'ndjson';
  return undefined;
}

export function parseCommand(argv: readonly string[]): Command {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (cause) {
    throw usage(cause instanceof Error ? cause.message : String(cause));
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) return { command: 'help' };
  const [command, target, ...extra] = positionals;
  if (command === 'history') {
    if (target !== undefined) throw usage(`unexpected argument(s): ${[target, ...extra].join(' ')}`);
    return {
      command: 'history',
      ledger: values.ledger ?? DEFAULT_LEDGER,
      failedOnly: values.failed ?? false,
      since: values.since === undefined ? undefined : parseSince(values.since),
      key: values.key,
      limit: historyLimit(values.limit),
      json: values.json ?? false,
    };
  }
  if (command !== 'ingest') throw usage(`unknown command "${command}"`);
  if (target === undefined) throw usage('ingest needs a local file or an s3://bucket/key');
  if (extra.length > 0) throw usage(`unexpected argument(s): ${extra.join(' ')}`);

  const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(target);
  const source: IngestCommand['source'] =
    s3 === null ? { kind: 'file', path: target } : { kind: 's3', bucket: s3[1] ?? '', key: s3[2] ?? '' };
  if (values.rejects !== undefined) checkRejectsTarget(values.rejects, source.kind);
  if (values.table === undefined) throw usage('--table is required');
  const format = values.format ?? formatFromName(target);
  if (format === undefined) throw usage(`cannot tell the format of "${target}" from its name: give --format`);

  const route = parseRoute(
    {
      table: values.table,
      format,
      delimiter: values.delimiter,
      header: format === 'ndjson' ? undefined : !values['no-header'],
      columns: values.columns?.split(',').map((c) => c.trim()),
      compression: values.compression,
      extraColumns: values['extra-columns'],
      delivery: values['at-least-once'] ? 'at-least-once' : undefined,
      badRows: {
        policy: values['bad-rows'] ?? 'reject',
        maxRejectedRows: integer('max-rejected', values['max-rejected']) ?? 1000,
      },
    },
    'options',
  );
  const chunking = ChunkingSchema.safeParse({
    maxBytes: integer('chunk-bytes', values['chunk-bytes']),
    maxRows: integer('chunk-rows', values['chunk-rows']),
    maxRecordBytes: integer('max-record-bytes', values['max-record-bytes']),
    insertsInFlight: integer('inserts-in-flight', values['inserts-in-flight']),
  });
  if (!chunking.success) throw usage(`invalid tuning option: ${formatIssues(chunking.error)}`);
  return {
    command: 'ingest',
    source,
    route,
    chunking: chunking.data,
    rejects: values.rejects,
    versionId: values['version-id'],
    s3Endpoint: values['s3-endpoint'] ?? process.env.AWS_ENDPOINT_URL_S3,
    quiet: values.quiet ?? false,
    ledger: values['no-ledger'] ? undefined : (values.ledger ?? DEFAULT_LEDGER),
    delivery: values['at-least-once'] ? 'at-least-once' : 'exactly-once',
  };
}

/** The most attempts `history` prints: the newest ones. */
export const HISTORY_LIMIT_MAX = 10_000;

function historyLimit(value: string | undefined): number {
  const limit = integer('limit', value) ?? 50;
  if (limit < 1 || limit > HISTORY_LIMIT_MAX)
    throw usage(`--limit takes 1 to ${HISTORY_LIMIT_MAX} attempts, got ${limit}`);
  return limit;
}

/**
 * A date, with an optional time of day (fractions of a second are dropped: the history keeps whole seconds)
 * and zone. Strict, because `new Date` takes almost anything ("1" is 2001) and rolls impossible days over
 * (February 31 is March 3).
 */
const SINCE_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * `24h`, `7d`, `30m`, or a date such as `2026-11-01`, `2026-11-01T10:00` or `2026-11-01T10:00:00+01:00`. A
 * date or time without a zone is UTC, as the history prints its times: JavaScript would read a bare date as
 * UTC but a time of day as the machine's local time.
 */
export function parseSince(text: string, now = new Date()): Date {
  const since = parseSinceText(text, now);
  // The history's times are ClickHouse DateTimes, which start at 1970.
  if (!(since.getTime() >= 0)) throw usage(`--since "${text}" is before 1970, where the load history starts`);
  return since;
}

function parseSinceText(text: string, now: Date): Date {
  const relative = /^(\d+)([mhd])$/.exec(text);
  if (relative) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(relative[1]) * unit);
  }
  const wrong = usage(
    `--since takes 24h, 7d, 30m, or a date such as 2026-11-01 or 2026-11-01T10:00 (UTC unless a zone such as Z or +01:00 follows), got "${text}"`,
  );
  const parts = SINCE_DATE.exec(text);
  if (parts === null) throw wrong;
  const [, year, month, day, hour, minute, second, zone] = parts;
  const iso = `${year}-${month}-${day}T${hour ?? '00'}:${minute ?? '00'}:${second ?? '00'}`;
  // The calendar check: the same fields must come back out of a UTC date built from them.
  const asUtc = new Date(`${iso}Z`);
  if (Number.isNaN(asUtc.getTime()) || asUtc.toISOString().slice(0, 19) !== iso) throw wrong;
  if (zone === undefined || zone === 'Z') return asUtc;
  const [offsetHours, offsetMinutes] = zone.slice(1).split(':').map(Number);
  if ((offsetHours ?? 99) > 23 || (offsetMinutes ?? 99) > 59) throw wrong;
  return new Date(`${iso}${zone}`);
}
