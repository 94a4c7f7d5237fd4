import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.ts';

export interface CeilingRun {
  durationMs: number;
  peakRssBytes: number;
  cpuMs: number;
  errors: string[];
}

const CLIENT = fileURLToPath(new URL('./ceiling-client.ts', import.meta.url));
let bundled: Promise<string> | undefined;

/** POSTs the files raw into ClickHouse from a fresh process of its own, as chute's handler runs in its own. */
export async function runCeiling(options: {
  clickhouseUrl: string;
  query: string;
  files: string[];
  timeoutMs: number;
}): Promise<CeilingRun> {
  bundled ??= bundle(CLIENT);
  const script = await bundled;
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  child.stdin.end(JSON.stringify({ url: options.clickhouseUrl, query: options.query, files: options.files }));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop();
      if (timedOut) reject(new Error(`ceiling process killed after ${options.timeoutMs} ms`));
      else if (code !== 0 || last === undefined || last === '')
        reject(new Error(`ceiling process exited ${code}: ${stderr.slice(-2000)}`));
      else resolve(JSON.parse(last) as CeilingRun);
    });
  });
}
