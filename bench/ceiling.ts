import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.ts';
import { runNodeJson } from './node-child.ts';

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
  return runNodeJson<CeilingRun>({
    what: 'ceiling process',
    args: [script],
    input: { url: options.clickhouseUrl, query: options.query, files: options.files },
    timeoutMs: options.timeoutMs,
  });
}
