import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChdbCommand, ChdbReply, ChdbRun } from './chdb-process.ts';
import { s3ClientEnv } from './env.ts';

const SCRIPT = fileURLToPath(new URL('./chdb-process.ts', import.meta.url));

/** The bench's handle on `chdb-process.ts`: one child holding chDB for a scenario, driven command by command. */
export interface ChdbProcess {
  readonly version: string;
  reset(table: string, columns: string): Promise<void>;
  count(table: string): Promise<number>;
  /** chute's pipeline on one event, in the child. */
  chute(command: Omit<Extract<ChdbCommand, { op: 'chute' }>, 'op'>): Promise<ChdbRun>;
  /** The ceiling: each file in one INSERT, in the child. */
  ceiling(command: Omit<Extract<ChdbCommand, { op: 'ceiling' }>, 'op'>): Promise<ChdbRun>;
  stop(): Promise<void>;
}

/**
 * Forks the child under tsx rather than as a bundle: chDB is a native addon that must resolve from the
 * repository's node_modules, and the child's start is outside every measurement.
 */
export async function startChdbProcess(s3Endpoint: string, timeoutMs: number): Promise<ChdbProcess> {
  const child = fork(SCRIPT, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...s3ClientEnv(), CHUTE_BENCH_S3_ENDPOINT: s3Endpoint },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (data: Buffer) => {
    stderr = (stderr + data.toString('utf8')).slice(-2000);
  });
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const fail = (why: string) => {
    for (const { reject } of waiting.values()) reject(new Error(`chDB process ${why}: ${stderr.trim()}`));
    waiting.clear();
  };
  child.on('message', (reply: ChdbReply) => {
    const pending = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (reply.ok) pending?.resolve(reply.result);
    else pending?.reject(new Error(`chDB process: ${reply.error}`));
  });
  child.on('exit', (code, signal) => fail(`exited (${signal ?? code})`));
  child.on('error', (error) => fail(error.message));

  let next = 1;
  const send = (command: ChdbCommand | undefined): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = command === undefined ? 0 : next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        child.kill('SIGKILL');
        reject(
          new Error(`chDB process: no answer to ${command?.op ?? 'start'} within ${timeoutMs / 1000} s`),
        );
      }, timeoutMs);
      waiting.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      if (command !== undefined) child.send({ id, command });
    });

  await send(undefined); // the child says "ready" once chDB is open
  const version = (await send({ op: 'version' })) as string;
  return {
    version,
    reset: async (table, columns) => {
      await send({ op: 'reset', table, columns });
    },
    count: async (table) => (await send({ op: 'count', table })) as number,
    chute: async (command) => (await send({ op: 'chute', ...command })) as ChdbRun,
    ceiling: async (command) => (await send({ op: 'ceiling', ...command })) as ChdbRun,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}
