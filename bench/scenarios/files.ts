import type { Context, InS3, SmallFiles } from '../context.ts';
import type { CsvFile, GeneratedFile } from '../data.ts';
import type { Side } from '../paired.ts';
import { runPipe } from '../pipe.ts';
import { verifyCeiling } from '../verify.ts';
import {
  type FileSlice,
  type ThroughputResult,
  type ThroughputSpec,
  throughputScenario,
} from './throughput.ts';

/**
 * The per-file scenarios. Each ceiling sends the bytes ClickHouse must end up parsing: the file
 * itself, the decompressed bytes of a gzip object, the clean rows of a file with bad ones.
 */

/** What a scenario on the clean CSV object loads and compares, whichever engine it runs on. */
export function cleanCsvLoad(data: InS3<CsvFile>): SingleFileLoad {
  return {
    basis: 'MB/s',
    route: { prefix: 'clean/', format: 'csv' },
    events: [data.event],
    ceiling: { files: [data.file.path], format: 'CSVWithNames' },
    work: { bytes: data.file.bytes, rows: data.file.rows, files: 1 },
    storedBytes: data.file.bytes,
    cleanRows: data.file.rows,
    badLines: [],
  };
}

/** The same for the CSV object with a bad row in every `every`: its ceiling is the file without them. */
export function badCsvLoad(data: InS3<CsvFile>, every: number): SingleFileLoad {
  const clean = data.file.clean;
  if (clean === undefined) throw new Error('bad CSV generated without its clean twin');
  return {
    basis: 'MB/s',
    route: { prefix: `bad${every}/`, format: 'csv' },
    events: [data.event],
    ceiling: { files: [clean.path], format: 'CSVWithNames' },
    work: { bytes: data.file.bytes, rows: data.file.rows, files: 1 },
    storedBytes: data.file.bytes,
    cleanRows: clean.rows,
    badLines: data.file.badLines,
  };
}

/** The part of a scenario's spec that its object decides, not its target. */
export type SingleFileLoad = Pick<
  ThroughputSpec,
  'basis' | 'events' | 'ceiling' | 'work' | 'storedBytes' | 'cleanRows' | 'badLines'
> & { route: { prefix: string; format: 'csv' } };

export async function cleanCsv(ctx: Context): Promise<ThroughputResult> {
  const data = await ctx.data.cleanCsv();
  return throughputScenario(ctx, {
    id: 'clean',
    title: `clean CSV, ${data.file.rows.toLocaleString('en-US')} rows`,
    target: 'ratio ≥ 0.8',
    minRatio: 0.8,
    table: 'bench_clean',
    ...cleanCsvLoad(data),
  });
}

/**
 * The clean CSV object as a warm container's second file. The throughput scenarios run chute in a fresh
 * process, a cold container whose first call also probes the server, learns the load history's tables and
 * opens its connections; most files of a busy function land on warm ones. The target is judged on `clean`.
 */
export async function cleanCsvWarm(ctx: Context): Promise<ThroughputResult> {
  const data = await ctx.data.cleanCsv();
  return throughputScenario(ctx, {
    id: 'clean-warm',
    title: `clean CSV, ${data.file.rows.toLocaleString('en-US')} rows, in a warm container (its second file)`,
    target: 'every row loaded; ratio reported (the 0.8 target is the cold scenario’s)',
    table: 'bench_clean_warm',
    ...cleanCsvLoad(data),
    warmUp: await ctx.data.warmUpFile(),
  });
}

export async function gzipCsv(ctx: Context): Promise<ThroughputResult> {
  const data = await ctx.data.gzipCsv();
  return throughputScenario(ctx, {
    id: 'gzip',
    title: `same, gzip object (${(data.storedBytes / 1e6).toFixed(1)} MB stored)`,
    target: 'ratio ≥ 0.7',
    minRatio: 0.7,
    basis: 'MB/s',
    table: 'bench_gzip',
    route: { prefix: 'gzip/', format: 'csv' },
    events: [data.event],
    ceiling: { files: [data.file.path], format: 'CSVWithNames' },
    work: { bytes: data.file.bytes, rows: data.file.rows, files: 1 },
    storedBytes: data.storedBytes,
    cleanRows: data.file.rows,
    badLines: [],
  });
}

export async function badCsv(ctx: Context, every: 10_000 | 100): Promise<ThroughputResult> {
  const data = await ctx.data.badCsv(every);
  return throughputScenario(ctx, {
    id: every === 10_000 ? 'bad-1e4' : 'bad-1e2',
    title: `CSV, 1 bad row in ${every.toLocaleString('en-US')} (${data.file.badLines.length.toLocaleString('en-US')} bad)`,
    target: every === 10_000 ? 'ratio ≥ 0.5, every bad row in rejects' : 'every bad row in rejects',
    ...(every === 10_000 ? { minRatio: 0.5 } : {}),
    table: `bench_bad${every}`,
    ...badCsvLoad(data, every),
  });
}

export async function ndjson(ctx: Context): Promise<ThroughputResult> {
  const data = await ctx.data.ndjson();
  return throughputScenario(ctx, {
    id: 'ndjson',
    title: `NDJSON, ${data.file.rows.toLocaleString('en-US')} rows`,
    target: 'ratio ≥ 0.7',
    minRatio: 0.7,
    table: 'bench_ndjson',
    ...ndjsonLoad(data),
  });
}

/** The NDJSON object as a warm container's second file; its target is judged on `ndjson`, a cold one. */
export async function ndjsonWarm(ctx: Context): Promise<ThroughputResult> {
  const data = await ctx.data.ndjson();
  return throughputScenario(ctx, {
    id: 'ndjson-warm',
    title: `NDJSON, ${data.file.rows.toLocaleString('en-US')} rows, in a warm container (its second file)`,
    target: 'every row loaded; ratio reported (the 0.7 target is the cold scenario’s)',
    table: 'bench_ndjson_warm',
    ...ndjsonLoad(data),
    warmUp: await ctx.data.warmUpFile(),
  });
}

function ndjsonLoad(data: InS3<GeneratedFile>) {
  return {
    basis: 'MB/s' as const,
    route: { prefix: 'ndjson/', format: 'ndjson' as const },
    events: [data.event],
    ceiling: { files: [data.file.path], format: 'JSONEachRow' as const },
    work: { bytes: data.file.bytes, rows: data.file.rows, files: 1 },
    storedBytes: data.file.bytes,
    cleanRows: data.file.rows,
    badLines: [],
  };
}

/**
 * Files per slice of the many-file scenarios. On this machine ClickHouse's cost per small insert was measured
 * to drift several-fold within a minute (BENCHMARKS.md), longer than one side's whole run takes; slices of this
 * size keep each turn to a few seconds, so both sides see about the same machine.
 */
const FILES_PER_SLICE = 250;

/** The first `count` small files, whole and in slices. */
function smallFileWork(all: SmallFiles, count: number) {
  const slices: FileSlice[] = [];
  for (let from = 0; from < count; from += FILES_PER_SLICE) {
    const to = Math.min(count, from + FILES_PER_SLICE);
    slices.push({
      events: all.events.slice(from, to),
      ceilingFiles: all.paths.slice(from, to),
      keys: all.keys.slice(from, to),
      rows: all.rows.slice(from, to).reduce((sum, r) => sum + r, 0),
    });
  }
  return {
    bytes: all.bytes.slice(0, count).reduce((sum, b) => sum + b, 0),
    rows: slices.reduce((sum, slice) => sum + slice.rows, 0),
    slices,
  };
}

export async function smallFiles(ctx: Context): Promise<ThroughputResult> {
  const all = await ctx.data.smallFiles();
  const count = ctx.options.smallFiles;
  const { bytes, rows, slices } = smallFileWork(all, count);
  return throughputScenario(ctx, {
    id: 'small-files',
    title: `${count.toLocaleString('en-US')} small files of ${(ctx.options.smallFileBytes / 1024).toFixed(0)} KB`,
    target: 'files/s ratio ≥ 0.5',
    minRatio: 0.5,
    basis: 'files/s',
    table: 'bench_small',
    route: { prefix: 'small/', format: 'csv' },
    events: all.events.slice(0, count),
    ceiling: { files: all.paths.slice(0, count), format: 'CSVWithNames' },
    work: { bytes, rows, files: count },
    storedBytes: bytes,
    cleanRows: rows,
    badLines: [],
    slices,
  });
}

/**
 * Not chute: the same objects piped from S3 into ClickHouse by a loader with nothing in it, one insert per object,
 * one object at a time, against the same ceiling. A loader that reads each object in one GET and sends it as one
 * insert stream cannot do better on this machine, so the scenario named by `of` is best read against this one.
 */
async function pipeScenario(
  ctx: Context,
  of: ThroughputResult['id'],
  spec: Omit<ThroughputSpec, 'id' | 'target' | 'route' | 'instead' | 'badLines'> & {
    keys: string[];
    ceiling: { format: 'CSVWithNames' | 'JSONEachRow' };
  },
): Promise<ThroughputResult> {
  const { keys, ...rest } = spec;
  const side: Side = async (loaded, slice) => {
    const part = spec.slices?.[slice];
    const run = await runPipe({
      s3Endpoint: ctx.env.s3.endpoint,
      bucket: ctx.env.bucket,
      keys: part?.keys ?? keys,
      clickhouseUrl: ctx.env.clickhouse.url,
      query: `INSERT INTO ${spec.table} FORMAT ${spec.ceiling.format}`,
      timeoutMs: ctx.options.runTimeoutMs,
    });
    loaded();
    return {
      wallMs: run.durationMs,
      peakRssBytes: run.peakRssBytes,
      clientCpuMs: run.cpuMs,
      failures: await verifyCeiling(ctx.env, run.errors, {
        table: spec.table,
        cleanRows: part?.rows ?? spec.cleanRows,
      }),
    };
  };
  return throughputScenario(ctx, {
    ...rest,
    id: `pipe-${of}`,
    target: `reported only: the bound for ${of}`,
    badLines: [],
    instead: side,
  });
}

/** The no-loader bound of a one-object scenario: that object, piped into one insert in the ceiling's format. */
function pipeObject(
  ctx: Context,
  of: 'clean' | 'ndjson',
  data: InS3<GeneratedFile>,
  title: string,
  format: 'CSVWithNames' | 'JSONEachRow',
): Promise<ThroughputResult> {
  return pipeScenario(ctx, of, {
    title: `no loader: ${title} piped from S3 into one insert (a bound, not chute)`,
    basis: 'MB/s',
    table: `bench_pipe_${of}`,
    keys: [data.key],
    events: [data.event],
    ceiling: { files: [data.file.path], format },
    work: { bytes: data.file.bytes, rows: data.file.rows, files: 1 },
    storedBytes: data.file.bytes,
    cleanRows: data.file.rows,
  });
}

export async function pipeCsv(ctx: Context): Promise<ThroughputResult> {
  return pipeObject(ctx, 'clean', await ctx.data.cleanCsv(), 'the clean CSV object', 'CSVWithNames');
}

export async function pipeNdjson(ctx: Context): Promise<ThroughputResult> {
  return pipeObject(ctx, 'ndjson', await ctx.data.ndjson(), 'the NDJSON object', 'JSONEachRow');
}

export async function pipeSmallFiles(ctx: Context): Promise<ThroughputResult> {
  const all = await ctx.data.smallFiles();
  const count = ctx.options.smallFiles;
  const { bytes, rows, slices } = smallFileWork(all, count);
  return pipeScenario(ctx, 'small-files', {
    title: 'no loader: each small file piped from S3 into one insert (a bound, not chute)',
    basis: 'files/s',
    table: 'bench_pipe_small',
    keys: all.keys.slice(0, count),
    events: all.events.slice(0, count),
    ceiling: { files: all.paths.slice(0, count), format: 'CSVWithNames' },
    work: { bytes, rows, files: count },
    storedBytes: bytes,
    cleanRows: rows,
    slices,
  });
}
