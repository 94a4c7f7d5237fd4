/**
 * The ceiling: the thinnest HTTP client there is. Reads { url, query, files } as JSON on stdin and POSTs each
 * file's bytes, as they are on disk, to ClickHouse's HTTP interface (`?query=INSERT ... FORMAT ...`), one
 * request per file, in order, over one keep-alive socket. No parsing, no chunking, no copies: whatever time
 * this takes is ClickHouse's (plus loopback TCP), which is what chute is measured against.
 * Prints one JSON line: { durationMs, peakRssBytes, cpuMs, errors }.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { ownPeakRssBytes } from '../test/fixtures/peak-rss.ts';
import { rawInsert, readJsonInput } from './child-io.ts';

interface CeilingInput {
  url: string;
  query: string;
  files: string[];
}

const input = await readJsonInput<CeilingInput>();

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const target = new URL(input.url);
target.searchParams.set('query', input.query);

function post(file: string): Promise<void> {
  const size = statSync(file).size;
  return rawInsert(
    target,
    agent,
    // Small files in one write; big ones streamed from the page cache in 1 MiB reads.
    (insert) =>
      size <= 1024 * 1024
        ? void insert.end(readFileSync(file))
        : pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), insert),
    { 'Content-Length': String(size) },
  );
}

let peak = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 10);
const errors: string[] = [];
const cpuBefore = process.cpuUsage();
const started = performance.now();
for (const file of input.files) {
  try {
    await post(file);
  } catch (error) {
    errors.push(error instanceof Error ? error.message : String(error));
  }
}
const durationMs = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
clearInterval(sampler);
agent.destroy();
process.stdout.write(
  `${JSON.stringify({
    durationMs,
    peakRssBytes: Math.max(peak, ownPeakRssBytes()),
    cpuMs: (cpu.user + cpu.system) / 1000,
    errors,
  })}\n`,
);
