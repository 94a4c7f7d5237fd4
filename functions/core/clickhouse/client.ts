import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { ClickHouseConfig } from '../config/schema.ts';

export interface ResolvedConnection {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly database: string;
}

/**
 * `http://user:pass@host:8123/db` is the common way to write a connection; credentials and database in the
 * URL are taken from it, and explicit fields win.
 */
export function resolveConnection(config: ClickHouseConfig): ResolvedConnection {
  const url = new URL(config.url);
  const pathDatabase = decodeURIComponent(url.pathname.replace(/^\/+|\/+$/g, ''));
  const username = config.username ?? (url.username === '' ? 'default' : decodeURIComponent(url.username));
  const password = config.password ?? decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  url.pathname = '/';
  return {
    url: url.toString().replace(/\/$/, ''),
    username,
    password,
    database: config.database ?? (pathDatabase === '' ? 'default' : pathDatabase),
  };
}

/**
 * Settings for a process that Lambda freezes between invocations: idle sockets are dropped well before the
 * server's keep-alive timeout, a socket is checked for staleness before reuse (timers run late after a
 * freeze), and the pool is bounded so that concurrency × pool is what ClickHouse sees.
 */
export function createClickHouseClient(config: ClickHouseConfig): ClickHouseClient {
  const connection = resolveConnection(config);
  return createClient({
    url: connection.url,
    username: connection.username,
    password: connection.password,
    database: connection.database,
    application: 'chute',
    max_open_connections: config.maxOpenConnections,
    request_timeout: config.requestTimeoutMs,
    keep_alive: {
      enabled: true,
      idle_socket_ttl: config.idleSocketTtlMs,
      eagerly_destroy_stale_sockets: true,
    },
    compression: { request: false, response: false },
    // chute reports every failure itself, with the file and line; the client's own log would repeat each one.
    log: { level: ClickHouseLogLevel.OFF },
  });
}
