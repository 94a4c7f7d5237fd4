import type { ScenarioId } from '../args.ts';
import type { Context } from '../context.ts';
import { type BoundsResult, bounds } from './bounds.ts';
import { chdbBadCsv, chdbCleanCsv } from './chdb.ts';
import { type ColdStartResult, coldStart } from './cold-start.ts';
import {
  badCsv,
  cleanCsv,
  cleanCsvWarm,
  gzipCsv,
  ndjson,
  ndjsonWarm,
  pipeCsv,
  pipeNdjson,
  pipeSmallFiles,
  smallFiles,
} from './files.ts';
import { type SizesResult, sizes } from './sizes.ts';
import type { ThroughputResult } from './throughput.ts';
import { type WarmResult, warm } from './warm.ts';

export type ScenarioResult = ThroughputResult | SizesResult | WarmResult | ColdStartResult | BoundsResult;

export const SCENARIOS: Record<ScenarioId, (ctx: Context) => Promise<ScenarioResult>> = {
  clean: cleanCsv,
  'clean-warm': cleanCsvWarm,
  'pipe-clean': pipeCsv,
  gzip: gzipCsv,
  'bad-1e4': (ctx) => badCsv(ctx, 10_000),
  'bad-1e2': (ctx) => badCsv(ctx, 100),
  'chdb-clean': chdbCleanCsv,
  'chdb-bad-1e4': chdbBadCsv,
  ndjson,
  'ndjson-warm': ndjsonWarm,
  'pipe-ndjson': pipeNdjson,
  'small-files': smallFiles,
  'pipe-small-files': pipeSmallFiles,
  sizes,
  warm,
  'cold-start': coldStart,
  bounds,
};
