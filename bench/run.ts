/**
 * `npm run bench`: chute's full path (object in a local S3 server -> the real handler -> a real ClickHouse
 * server) against the ceiling (the same bytes POSTed raw into the same table), per scenario of the
 * performance issue. See BENCHMARKS.md for what the figures mean and `npm run bench -- --help` for options.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, USAGE } from './args.ts';
import { type Context, DataSets } from './context.ts';
import { machineInfo, startBenchEnv } from './env.ts';
import { throughputRssSvg } from './plot.ts';
import { type BenchReport, renderMarkdown, renderText } from './report.ts';
import { SCENARIOS, type ScenarioResult } from './scenarios/index.ts';
import { RSS_LIMIT_BYTES } from './scenarios/sizes.ts';
import { stat } from './stats.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BEGIN = '<!-- bench:results:begin -->';
const END = '<!-- bench:results:end -->';

let options: ReturnType<typeof parseBenchArgs>;
try {
  options = parseBenchArgs(process.argv.slice(2));
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

const started = Date.now();
const log = (line: string) =>
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const env = await startBenchEnv(log);
// Taken now: the commit (and dirty state) is that of the code the run bundles, whatever lands meanwhile.
const machine = machineInfo(env.clickhouseVersion);
process.once('SIGINT', () => {
  log('interrupted: stopping the servers');
  void env.stop().finally(() => process.exit(130));
});
const ctx: Context = { env, options, log, data: new DataSets(env, options, log) };
// The bench itself keeps about 2 of the 2 cores busy; a load well above that means other work shared them.
const loadSamples: number[] = [];
const loadSampler = setInterval(() => loadSamples.push(loadavg()[0] ?? 0), 5000);
loadSampler.unref();
const results: ScenarioResult[] = [];
const failures: string[] = [];
try {
  for (const id of options.only) {
    try {
      const result = await SCENARIOS[id](ctx);
      results.push(result);
      failures.push(...result.failures.map((failure) => `${id}: ${failure}`));
    } catch (error) {
      // A scenario that cannot even run is a failure of its own; the others still run.
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`${id} could not run: ${message}`);
      failures.push(`${id}: could not run: ${message.split('\n')[0]}`);
    }
  }
} finally {
  clearInterval(loadSampler);
  await env.stop();
}

const report: BenchReport = {
  version: 1,
  mode: options.mode,
  machine,
  options: {
    runs: options.runs,
    rows: options.rows,
    sizesMb: options.sizesMb,
    smallFiles: options.smallFiles,
    warmInvocations: options.warmInvocations,
    scenarioBudgetS: options.scenarioBudgetMs / 1000,
  },
  durationS: (Date.now() - started) / 1000,
  loadAverage: stat(loadSamples),
  scenarios: results,
  failures,
};

const outDir = resolve(
  options.out ?? join(ROOT, 'bench', 'results', options.mode === 'full' ? '' : options.mode),
);
await mkdir(outDir, { recursive: true });
const jsonPath = join(outDir, 'latest.json');
await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
const sizes = results.find((r) => r.kind === 'sizes');
let plotPath: string | undefined;
if (sizes !== undefined && sizes.points.length > 0) {
  plotPath = join(outDir, 'throughput-rss.svg');
  const caption = `${report.machine.cores} cores shared by ClickHouse ${report.machine.clickhouse}, s3rver and the function; ${report.machine.date.slice(0, 10)}`;
  await writeFile(plotPath, throughputRssSvg(sizes.points, RSS_LIMIT_BYTES, caption));
}
const markdown = renderMarkdown(report, plotPath === undefined ? undefined : relative(ROOT, plotPath));
const markdownPath = join(outDir, 'latest.md');
await writeFile(markdownPath, `${markdown}\n`);
const written = [jsonPath, markdownPath, ...(plotPath === undefined ? [] : [plotPath])];
if (options.mode === 'full' && options.out === undefined) {
  const doc = await updateBenchmarksDoc(markdown);
  if (doc !== undefined) written.push(doc);
}
formatWithBiome(written);

const text = renderText(report);
if (options.json) {
  process.stderr.write(text);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  process.stdout.write(text);
}
log(`results in ${relative(process.cwd(), outDir) || '.'}/`);
// Correctness only: a slow chute is a finding, never a failure.
process.exit(failures.length === 0 ? 0 : 1);

/** Replaces the generated block of BENCHMARKS.md; the hand-written explanation around it stays. */
async function updateBenchmarksDoc(block: string): Promise<string | undefined> {
  const path = join(ROOT, 'BENCHMARKS.md');
  if (!existsSync(path)) return undefined;
  const doc = await readFile(path, 'utf8');
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin < 0 || end < begin) {
    log(`BENCHMARKS.md has no ${BEGIN} … ${END} block; not updated`);
    return undefined;
  }
  await writeFile(path, `${doc.slice(0, begin + BEGIN.length)}\n\n${block}\n\n${doc.slice(end)}`);
  log('BENCHMARKS.md results block updated');
  return path;
}

/** The repository lints JSON, SVG and Markdown with biome: write results in its style, so they stay lint-clean. */
function formatWithBiome(paths: string[]): void {
  const biome = join(ROOT, 'node_modules', '.bin', 'biome');
  if (!existsSync(biome)) return;
  spawnSync(biome, ['format', '--write', ...paths], { stdio: 'ignore' });
}
