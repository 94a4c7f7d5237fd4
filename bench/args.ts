import { parseArgs } from 'node:util';

export const SCENARIO_IDS = [
  'clean',
  'clean-warm',
  'pipe-clean',
  'gzip',
  'bad-1e4',
  'bad-1e2',
  'chdb-clean',
  'chdb-bad-1e4',
  'ndjson',
  'ndjson-warm',
  'pipe-ndjson',
  'small-files',
  'pipe-small-files',
  'sizes',
  'warm',
  'cold-start',
  'bounds',
] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

export interface BenchOptions {
  /** full: the scenarios at their sizes; smoke: the CI check; partial: anything narrowed by flags. */
  mode: 'full' | 'smoke' | 'partial';
  smoke: boolean;
  json: boolean;
  runs: number;
  /** Rows of the 1M-row scenarios. */
  rows: number;
  /** Object sizes of the memory scenario, in MB (10^6 bytes). */
  sizesMb: number[];
  smallFiles: number;
  smallFileBytes: number;
  warmInvocations: number;
  importRuns: number;
  only: ScenarioId[];
  /** Where latest.json and the plot go; undefined: the default for the mode. */
  out: string | undefined;
  /** Kill a chute or ceiling run after this long. */
  runTimeoutMs: number;
  /** Time a scenario (each size of the memory scenario) may take before it stops adding runs. */
  scenarioBudgetMs: number;
  help: boolean;
}

export const USAGE = `npm run bench -- [options]

Starts its own ClickHouse server and S3 server (s3rver), generates its data in a temp dir, and measures
chute's full path (object in S3 -> handler -> ClickHouse) against the ceiling (the same data POSTed raw).

  --smoke            tiny sizes, 1 run: a CI check that the bench still works (exits 1 only if chute
                     fails: errors, lost rows, missing rejects; never because of timing)
  --json             print the results as JSON on stdout (the human table goes to stderr)
  --runs N           runs of chute and of the ceiling per scenario, alternated (default 3; smoke 1)
  --rows N           rows of the CSV and NDJSON scenarios (default 1000000; smoke 20000)
  --sizes A,B,C      object sizes in MB for the memory scenario (default 10,100,1000; smoke 2,8)
  --small-files N    files of the small-file scenario (default 2000; smoke 50)
  --warm N           warm invocations in one process (default 1000; smoke 50)
  --only A,B         scenarios to run: ${SCENARIO_IDS.join(', ')}
  --out DIR          where latest.json and throughput-rss.svg go (default bench/results for a full
                     run; bench/results/smoke or bench/results/partial otherwise, both git-ignored)
  --run-timeout S    kill a single run after S seconds (default 900)
  --budget S         a scenario starts no new pair of runs that would end past S seconds (default 240;
                     2.5 times that for the many-file scenarios, which run in slices; at least one
                     pair always runs, so a slow scenario reports fewer runs, and says so)
  --help`;

export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      smoke: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      runs: { type: 'string' },
      rows: { type: 'string' },
      sizes: { type: 'string' },
      'small-files': { type: 'string' },
      warm: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      'run-timeout': { type: 'string' },
      budget: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const smoke = values.smoke === true;
  const narrowed = [values.only, values.rows, values.sizes, values['small-files'], values.warm].some(
    (value) => value !== undefined,
  );
  const only = values.only === undefined ? [...SCENARIO_IDS] : list(values.only).map(scenarioId);
  return {
    mode: smoke ? 'smoke' : narrowed ? 'partial' : 'full',
    smoke,
    json: values.json === true,
    runs: positive('--runs', values.runs, smoke ? 1 : 3),
    rows: positive('--rows', values.rows, smoke ? 20_000 : 1_000_000),
    sizesMb:
      values.sizes === undefined
        ? smoke
          ? [2, 8]
          : [10, 100, 1000]
        : list(values.sizes).map((size) => positive('--sizes', size, 0)),
    smallFiles: positive('--small-files', values['small-files'], smoke ? 50 : 2000),
    smallFileBytes: 2048,
    warmInvocations: positive('--warm', values.warm, smoke ? 50 : 1000),
    importRuns: 5,
    only,
    out: values.out,
    runTimeoutMs: positive('--run-timeout', values['run-timeout'], 900) * 1000,
    scenarioBudgetMs: positive('--budget', values.budget, 240) * 1000,
    help: values.help === true,
  };
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

function scenarioId(name: string): ScenarioId {
  const found = SCENARIO_IDS.find((id) => id === name);
  if (found === undefined)
    throw new Error(`--only: unknown scenario "${name}" (one of ${SCENARIO_IDS.join(', ')})`);
  return found;
}

function positive(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${flag}: expected a positive number, got "${text}"`);
  return value;
}
