/**
 * The ceiling: the thinnest HTTP client there is. Reads { url, query, files } as JSON on stdin and POSTs each
 * file's bytes, as they are on disk, to ClickHouse's HTTP interface (`?query=INSERT ... FORMAT ...`), one
 * request per file, in order, over one keep-alive socket. No parsing, no chunking, no copies: whatever time
 * this takes is ClickHouse's (plus loopback TCP), which is what chute is measured against.
 * Prints one JSON line: { durationMs, peakRssBytes, cpuMs, errors }.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ownPeakRssBytes } from '../test/fixtures/peak-rss.ts';

interface CeilingInput {
  url: string;
  query: string;
  files: string[];
}

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CeilingInput;

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const target = new URL(input.url);
target.searchParams.set('query', input.query);

function post(file: string): Promise<void> {
  const size = statSync(file).size;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      { method: 'POST', agent, headers: { 'Content-Length': String(size) } },
      (response) => {
        const body: Buffer[] = [];
        response.on('data', (data: Buffer) => body.push(data));
        response.on('error', reject);
        response.on('end', () => {
          if (response.statusCode === 200) resolve();
          else
            reject(
              new Error(`HTTP ${response.statusCode}: ${Buffer.concat(body).toString('utf8').slice(0, 500)}`),
            );
        });
      },
    );
    req.on('error', reject);
    // Small files in one write; big ones streamed from the page cache in 1 MiB reads.
    if (size <= 1024 * 1024) req.end(readFileSync(file));
    else
      createReadStream(file, { highWaterMark: 1024 * 1024 })
        .on('error', reject)
        .pipe(req);
  });
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
