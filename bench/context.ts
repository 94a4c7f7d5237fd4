import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Event } from 'aws-lambda';
import type { BenchOptions } from './args.ts';
import { type CsvFile, type GeneratedFile, generateCsv, generateNdjson, gzipFile, smallCsv } from './data.ts';
import type { BenchEnv } from './env.ts';
import { putObject, uploadFile } from './objects.ts';
import type { WarmUp } from './scenarios/throughput.ts';

export interface Context {
  readonly env: BenchEnv;
  readonly options: BenchOptions;
  readonly log: (line: string) => void;
  readonly data: DataSets;
}

export interface InS3<T> {
  file: T;
  key: string;
  event: S3Event;
}

export interface SmallFiles {
  events: S3Event[];
  keys: string[];
  paths: string[];
  bytes: number[];
  rows: number[];
}

/** Each data set is generated and uploaded once, on first use, and shared by the scenarios that need it. */
export class DataSets {
  readonly #env: BenchEnv;
  readonly #options: BenchOptions;
  readonly #log: (line: string) => void;
  readonly #memo = new Map<string, Promise<unknown>>();

  constructor(env: BenchEnv, options: BenchOptions, log: (line: string) => void) {
    this.#env = env;
    this.#options = options;
    this.#log = log;
  }

  #once<T>(name: string, make: () => Promise<T>): Promise<T> {
    let value = this.#memo.get(name) as Promise<T> | undefined;
    if (value === undefined) {
      value = make();
      this.#memo.set(name, value);
    }
    return value;
  }

  /** The clean CSV of `--rows` rows, in S3 under clean/. */
  cleanCsv(): Promise<InS3<CsvFile>> {
    return this.#once('clean', async () => {
      const rows = this.#options.rows;
      this.#log(`generating ${rows} CSV rows`);
      const file = await generateCsv({ path: join(this.#env.tmp, 'events.csv'), rows });
      return this.#upload('clean/events.csv', file);
    });
  }

  /** The same CSV gzipped, in S3 under gzip/; `file` is the decompressed original. */
  gzipCsv(): Promise<InS3<CsvFile> & { storedBytes: number; gzipPath: string }> {
    return this.#once('gzip', async () => {
      const clean = await this.cleanCsv();
      const path = join(this.#env.tmp, 'events.csv.gz');
      this.#log('gzipping it');
      const storedBytes = await gzipFile(clean.file.path, path);
      const key = 'gzip/events.csv.gz';
      this.#log(`uploading ${key}`);
      return {
        file: clean.file,
        key,
        event: await uploadFile(this.#env, key, path),
        storedBytes,
        gzipPath: path,
      };
    });
  }

  /** CSV with one bad row in every `every`, and its clean twin for the ceiling. */
  badCsv(every: number): Promise<InS3<CsvFile>> {
    return this.#once(`bad-${every}`, async () => {
      const rows = this.#options.rows;
      this.#log(`generating ${rows} CSV rows, 1 bad in ${every}`);
      const file = await generateCsv({
        path: join(this.#env.tmp, `bad-${every}.csv`),
        cleanPath: join(this.#env.tmp, `bad-${every}.clean.csv`),
        rows,
        badEvery: every,
      });
      return this.#upload(`bad${every}/events.csv`, file);
    });
  }

  ndjson(): Promise<InS3<GeneratedFile>> {
    return this.#once('ndjson', async () => {
      const rows = this.#options.rows;
      this.#log(`generating ${rows} NDJSON rows`);
      const file = await generateNdjson(join(this.#env.tmp, 'events.ndjson'), rows);
      return this.#upload('ndjson/events.ndjson', file);
    });
  }

  /**
   * The first file of a warm container (see WarmUp in scenarios/throughput.ts): a 2 KB CSV under warmup/,
   * loaded into a table of its own.
   */
  warmUpFile(): Promise<WarmUp> {
    return this.#once('warm-up', async () => {
      const key = 'warmup/first.csv';
      return {
        event: await putObject(this.#env, key, smallCsv(0, 2048).body),
        key,
        route: { prefix: 'warmup/', format: 'csv' as const },
        table: 'bench_warmup',
      };
    });
  }

  /** Small CSV files under small/, enough for both the small-file and the warm-invocation scenarios. */
  smallFiles(): Promise<SmallFiles> {
    return this.#once('small', async () => {
      const count = Math.max(this.#options.smallFiles, this.#options.warmInvocations);
      const dir = join(this.#env.tmp, 'small');
      await mkdir(dir, { recursive: true });
      this.#log(`generating and uploading ${count} small files`);
      const out: SmallFiles = { events: [], keys: [], paths: [], bytes: [], rows: [] };
      const CONCURRENCY = 8;
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < count; i = next++) {
          const { body, rows } = smallCsv(i, this.#options.smallFileBytes);
          const name = `${String(i).padStart(5, '0')}.csv`;
          const path = join(dir, name);
          await writeFile(path, body);
          out.keys[i] = `small/${name}`;
          out.events[i] = await putObject(this.#env, `small/${name}`, body);
          out.paths[i] = path;
          out.bytes[i] = body.length;
          out.rows[i] = rows;
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      return out;
    });
  }

  async #upload<T extends GeneratedFile>(key: string, file: T): Promise<InS3<T>> {
    this.#log(`uploading ${key} (${(file.bytes / 1e6).toFixed(1)} MB)`);
    return { file, key, event: await uploadFile(this.#env, key, file.path) };
  }
}
