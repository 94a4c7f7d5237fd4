import { fileURLToPath } from 'node:url';
import { bundledOnce } from './bundle.ts';
import { runNodeJson } from './node-child.ts';

export interface CeilingRun {
  durationMs: number;
  peakRssBytes: number;
  cpuMs: number;
  errors: string[];
}

const client = bundledOnce(fileURLToPath(new URL('./ceiling-client.ts', import.meta.url)));

/** POSTs the files raw into ClickHouse from a fresh process of its own, as chute's handler runs in its own. */
export async function runCeiling(options: {
  clickhouseUrl: string;
  query: string;
  files: string[];
  timeoutMs: number;
}): Promise<CeilingRun> {
  const script = await client();
  return runNodeJson<CeilingRun>({
    what: 'ceiling process',
    args: [script],
    input: { url: options.clickhouseUrl, query: options.query, files: options.files },
    timeoutMs: options.timeoutMs,
  });
}
