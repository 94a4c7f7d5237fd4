import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const HANDLER = pathToFileURL(
  fileURLToPath(new URL('../../functions/ingest/handler.ts', import.meta.url)),
).href;

/** Imports the handler module in a fresh node process with `env`, as Lambda's init does; resolves how it went. */
function importHandler(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', `await import(${JSON.stringify(HANDLER)});`],
      { env: { PATH: process.env.PATH ?? '', POWERTOOLS_DEV: 'false', ...env }, timeout: 60_000 },
      (error, _stdout, stderr) => resolve({ code: error ? (error.code as number | null) : 0, stderr }),
    );
  });
}

const BAD_CONFIG = {
  CHUTE_CONFIG: JSON.stringify({ routes: [{ prefix: 'in/', table: 't', format: 'xml' }] }),
};

describe('the handler module', () => {
  it("fails Lambda's init on a bad configuration, naming it, before any event", async () => {
    const run = await importHandler({ ...BAD_CONFIG, AWS_LAMBDA_FUNCTION_NAME: 'chute-test' });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/ChuteError: Invalid/);
    expect(run.stderr).toMatch(/format/);
  });

  it('builds nothing when imported outside Lambda (a bundle check, a test)', async () => {
    const run = await importHandler(BAD_CONFIG);
    expect(run).toMatchObject({ code: 0 });
  });
});
