import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../context.ts';
import { generateCsv } from '../data.ts';
import { deleteObject, uploadFile } from '../objects.ts';
import type { Paired } from '../paired.ts';
import { MIB } from '../stats.ts';
import { runThroughput } from './throughput.ts';

export const RSS_LIMIT_BYTES = 150 * MIB;
/** The largest object's peak RSS may exceed the smallest's by this much: memory must not grow with size. */
export const RSS_SPREAD = 0.15;

export interface SizePoint extends Paired {
  sizeMb: number;
  bytes: number;
  rows: number;
}

export interface SizesResult {
  kind: 'sizes';
  id: 'sizes';
  title: string;
  target: string;
  points: SizePoint[];
  /** Largest object's peak RSS over the smallest's, minus one. */
  rssGrowth: number;
  met: boolean;
  failures: string[];
}

/** Peak RSS and throughput of chute (and the ceiling's throughput) against object size. */
export async function sizes(ctx: Context): Promise<SizesResult> {
  const { env, options, log } = ctx;
  log(`sizes: clean CSV of ${options.sizesMb.join(', ')} MB`);
  const points: SizePoint[] = [];
  for (const sizeMb of [...options.sizesMb].sort((a, b) => a - b)) {
    const path = join(env.tmp, `size-${sizeMb}.csv`);
    const key = `size/events-${sizeMb}MB.csv`;
    log(`  generating ${sizeMb} MB of CSV and uploading it`);
    const file = await generateCsv({ path, targetBytes: sizeMb * 1e6, seed: 3 });
    const event = await uploadFile(env, key, path);
    const paired = await runThroughput(ctx, {
      id: `size-${sizeMb}MB`,
      title: `${sizeMb} MB`,
      target: '',
      basis: 'MB/s',
      table: 'bench_size',
      route: { prefix: 'size/', format: 'csv' },
      events: [event],
      ceiling: { files: [path], format: 'CSVWithNames' },
      work: { bytes: file.bytes, rows: file.rows, files: 1 },
      storedBytes: file.bytes,
      cleanRows: file.rows,
      badLines: [],
    });
    points.push({ sizeMb, bytes: file.bytes, rows: file.rows, ...paired });
    // A 1 GB object twice on disk (here and in s3rver) is enough; drop each size once measured.
    await deleteObject(env, key);
    await rm(path, { force: true });
  }
  const first = points[0];
  const last = points[points.length - 1];
  const rssGrowth =
    first === undefined || last === undefined
      ? Number.NaN
      : last.chute.peakRssBytes / first.chute.peakRssBytes - 1;
  const failures = points.flatMap((point) => point.failures.map((f) => `${point.sizeMb} MB: ${f}`));
  const underLimit = points.every((point) => point.chute.peakRssBytes <= RSS_LIMIT_BYTES);
  return {
    kind: 'sizes',
    id: 'sizes',
    title: 'peak RSS vs object size',
    target: 'peak RSS ≤ 150 MiB at every size; largest within 15% of smallest',
    points,
    rssGrowth,
    met: failures.length === 0 && underLimit && rssGrowth <= RSS_SPREAD,
    failures,
  };
}
