import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { type RunningClickHouse, startClickHouseServer } from '../test/fixtures/clickhouse-server.ts';
import { type RunningS3, startS3Server } from '../test/fixtures/s3.ts';

/** The bench's own servers and scratch space; nothing outside the temp dir is written but the results. */
export interface BenchEnv {
  readonly clickhouse: RunningClickHouse;
  readonly s3: RunningS3;
  readonly bucket: string;
  /** Generated data lives here and is deleted at the end. */
  readonly tmp: string;
  readonly clickhouseVersion: string;
  /** Runs one statement over plain HTTP; resolves the response text. */
  sql(query: string): Promise<string>;
  /** CPU time used so far by the ClickHouse server and by this process (which hosts s3rver). */
  cpu(): CpuSnapshot;
  stop(): Promise<void>;
}

export interface CpuSnapshot {
  serverMs: number;
  s3Ms: number;
}

export const BUCKET = 'bench';

/**
 * The whole environment of a child process that reads the local S3 server with chute's S3 client: s3rver's
 * credentials, a region, and PATH; nothing else of the bench's.
 */
export function s3ClientEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  };
}

export async function startBenchEnv(log: (line: string) => void): Promise<BenchEnv> {
  const tmp = await mkdtemp(join(tmpdir(), 'chute-bench-'));
  log('starting clickhouse-server and s3rver');
  const [clickhouse, s3] = await Promise.all([startClickHouseServer(), startS3Server()]);
  await s3.createBucket(BUCKET);
  const sql = async (query: string): Promise<string> => {
    const response = await fetch(`${clickhouse.url}/`, { method: 'POST', body: query });
    const text = await response.text();
    if (!response.ok)
      throw new Error(`ClickHouse ${response.status} for ${query.slice(0, 120)}: ${text.slice(0, 500)}`);
    return text;
  };
  const clickhouseVersion = (await sql('SELECT version()')).trim();
  const ticks = clockTicks();
  return {
    clickhouse,
    s3,
    bucket: BUCKET,
    tmp,
    clickhouseVersion,
    sql,
    cpu() {
      const own = process.cpuUsage();
      return { serverMs: processCpuMs(clickhouse.pid(), ticks), s3Ms: (own.user + own.system) / 1000 };
    },
    async stop() {
      // Why: the fixture unrefs the server process, so nothing else keeps this process alive until its exit
      // is seen; without a handle of our own, node would quit mid-stop with exit code 13.
      const keepAlive = setInterval(() => {}, 1000);
      try {
        await Promise.allSettled([clickhouse.stop(), s3.stop()]);
        await rm(tmp, { recursive: true, force: true });
      } finally {
        clearInterval(keepAlive);
      }
    },
  };
}

export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  return { serverMs: after.serverMs - before.serverMs, s3Ms: after.s3Ms - before.s3Ms };
}

/** utime + stime of a process (all its threads), from /proc: the server's share of the two cores. */
function processCpuMs(pid: number | undefined, ticksPerSecond: number): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return Number.NaN;
  }
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

export interface MachineInfo {
  date: string;
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  clickhouse: string;
  /** The commit measured, and whether the function's code had uncommitted changes at the time. */
  commit: string;
  functionsDirty: boolean;
  /** 1-minute load average when the run started: anything else busy on the 2 cores skews every figure. */
  loadAverageAtStart: number;
}

export function machineInfo(clickhouseVersion: string): MachineInfo {
  return {
    date: new Date().toISOString(),
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    kernel: release(),
    clickhouse: clickhouseVersion,
    commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown',
    functionsDirty: git(['status', '--porcelain', '--', 'functions']) !== '',
    loadAverageAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}
