import { runNodeJsonProcess } from '../test/fixtures/node-json-process.ts';

/**
 * Runs `node <args>` in a fresh process, hands it `input` as JSON on stdin (when given), and resolves the last
 * line it printed on stdout, parsed as JSON: how the bench measures anything in a process of its own.
 */
export async function runNodeJson<T>(options: {
  /** Names the process in errors: "ceiling process exited 1: …". */
  what: string;
  args: string[];
  /** The child's whole environment; the bench's own when not given. */
  env?: NodeJS.ProcessEnv;
  input?: unknown;
  timeoutMs?: number;
}): Promise<T> {
  return (await runNodeJsonProcess<T>(options)).result;
}
