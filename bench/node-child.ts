import { spawn } from 'node:child_process';

/**
 * Runs `node <args>` in a fresh process, hands it `input` as JSON on stdin (when given), and resolves the last
 * line it printed on stdout, parsed as JSON: how the bench measures anything in a process of its own.
 */
export function runNodeJson<T>(options: {
  /** Names the process in errors: "ceiling process exited 1: …". */
  what: string;
  args: string[];
  /** The child's whole environment; the bench's own when not given. */
  env?: NodeJS.ProcessEnv;
  input?: unknown;
  timeoutMs?: number;
}): Promise<T> {
  const child = spawn(process.execPath, options.args, {
    ...(options.env === undefined ? {} : { env: options.env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  child.stdin.end(options.input === undefined ? undefined : JSON.stringify(options.input));
  let timedOut = false;
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, options.timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop();
      if (timedOut) reject(new Error(`${options.what} killed after ${options.timeoutMs} ms`));
      else if (code !== 0 || last === undefined || last === '')
        reject(new Error(`${options.what} exited ${code}: ${stderr.slice(-2000)}`));
      else resolve(JSON.parse(last) as T);
    });
  });
}
