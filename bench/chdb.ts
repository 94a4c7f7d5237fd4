import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHDB_ENV, type ChdbCommand, type ChdbReply, type ChdbRun } from './chdb-protocol.ts';
import { s3ClientEnv } from './env.ts';

const SCRIPT = fileURLToPath(new URL('./chdb-process.ts', import.meta.url));
/** How long a child may take to close chDB and exit once asked to. */
const STOP_GRACE_MS = 10_000;

/** The bench's handle on `chdb-process.ts`: one child holding chDB for a scenario, driven command by command. */
export interface ChdbProcess {
  readonly version: string;
  reset(table: string, columns: string): Promise<void>;
  drop(table: string): Promise<void>;
  count(table: string): Promise<number>;
  /** chute's pipeline on the events, in the child. */
  chute(command: Omit<Extract<ChdbCommand, { op: 'chute' }>, 'op'>): Promise<ChdbRun>;
  /** The ceiling: each file in one INSERT, in the child. */
  ceiling(command: Omit<Extract<ChdbCommand, { op: 'ceiling' }>, 'op'>): Promise<ChdbRun>;
  /** Asks the child to close chDB and exit (killed if it does not), then removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Forks the child under tsx rather than as a bundle: chDB is a native addon that must resolve from the
 * repository's node_modules, and the child's start is outside every measurement. Its data directory is made
 * under `tmp` (the bench's temp dir) here, not by the child, so that it goes even when the child is killed.
 * Each command answers within `timeoutMs` or the child is killed and the command fails.
 */
export async function startChdbProcess(
  s3Endpoint: string,
  tmp: string,
  timeoutMs: number,
): Promise<ChdbProcess> {
  const dataDir = mkdtempSync(join(tmp, 'chdb-'));
  const child = fork(SCRIPT, [], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: {
      ...s3ClientEnv(),
      ...(process.env.TMPDIR === undefined ? {} : { TMPDIR: process.env.TMPDIR }),
      [CHDB_ENV.s3Endpoint]: s3Endpoint,
      [CHDB_ENV.dataDir]: dataDir,
    },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let gone: string | undefined;
  let markExited: () => void = () => undefined;
  const exited = new Promise<void>((resolve) => {
    markExited = resolve;
  });
  let stderr = '';
  child.stderr?.on('data', (data: Buffer) => {
    stderr = (stderr + data.toString('utf8')).slice(-2000);
  });
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const failAll = (why: string) => {
    gone ??= why;
    for (const { reject } of waiting.values()) reject(new Error(`chDB process ${why}: ${stderr.trim()}`));
    waiting.clear();
  };
  // 'exit', not 'close': measured, a chDB child's stderr pipe does not close when it exits, so 'close' never
  // comes. What it wrote before exiting has usually been read by then.
  child.once('exit', (code, signal) => {
    failAll(`exited (${signal ?? code})`);
    child.stderr?.destroy();
    markExited();
  });
  // A failed spawn, or a send on a closed channel: without a listener Node would throw it at the bench.
  child.on('error', (error) => {
    failAll(`failed: ${error.message}`);
    if (child.pid === undefined) markExited(); // never started: no 'exit' will come
  });
  child.on('message', (reply: ChdbReply) => {
    const pending = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (reply.ok) pending?.resolve(reply.result);
    else pending?.reject(new Error(`chDB process: ${reply.error}`));
  });

  let next = 1;
  /** `undefined`: wait for the child's "ready" (id 0). */
  const send = (command: ChdbCommand | undefined): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (gone !== undefined) {
        reject(new Error(`chDB process ${gone}: cannot ${command?.op ?? 'start'}`));
        return;
      }
      const id = command === undefined ? 0 : next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        child.kill('SIGKILL');
        reject(
          new Error(`chDB process: no answer to ${command?.op ?? 'start'} within ${timeoutMs / 1000} s`),
        );
      }, timeoutMs);
      const settle = () => clearTimeout(timer);
      waiting.set(id, {
        resolve: (value) => {
          settle();
          resolve(value);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      if (command !== undefined)
        child.send({ id, command }, (error) => {
          if (error === null) return;
          waiting.get(id)?.reject(error);
          waiting.delete(id);
        });
    });

  const stop = async () => {
    await stopChild(child, exited);
    rmSync(dataDir, { recursive: true, force: true });
  };
  let version: string;
  try {
    await send(undefined);
    version = (await send({ op: 'version' })) as string;
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    version,
    reset: async (table, columns) => {
      await send({ op: 'reset', table, columns });
    },
    drop: async (table) => {
      await send({ op: 'drop', table });
    },
    count: async (table) => (await send({ op: 'count', table })) as number,
    chute: async (command) => (await send({ op: 'chute', ...command })) as ChdbRun,
    ceiling: async (command) => (await send({ op: 'ceiling', ...command })) as ChdbRun,
    stop,
  };
}

/** Disconnects (the child closes chDB and exits), and kills it if it has not gone within the grace period. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    if (child.connected) child.disconnect();
    else child.kill('SIGKILL');
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    try {
      await exited;
    } finally {
      clearTimeout(killer);
    }
  }
}
