import { ChuteError } from '../errors.ts';

/**
 * The server's numeric error code. @clickhouse/client sets `code` only when the message ends with a
 * `(TYPE_NAME)` marker, which servers before about 20.x do not write (their `Code: 27, e.displayText()`
 * prefix still carries it). chDB's connection throws its own copy of ClickHouseError, so the code is read by
 * shape rather than by class.
 */
export function clickHouseErrorCode(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code: unknown = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return code;
  return /(?:^|\s)Code: (\d+)[.,]/.exec(error.message)?.[1];
}

/** Codes with which a server refuses the credentials: unknown user, wrong password, no password, failed login. */
const AUTHENTICATION_CODES = new Set(['192', '193', '194', '516']);

/**
 * Whether `error`, or one of its causes, is ClickHouse refusing the credentials (perhaps rotated since). chute's
 * own errors are looked through, never read: their messages quote rows, reasons and keys, any of which may
 * say "Code: 516.".
 */
export function isAuthenticationFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = current instanceof ChuteError ? undefined : clickHouseErrorCode(current);
    if (code !== undefined && AUTHENTICATION_CODES.has(code)) return true;
    current = current.cause;
  }
  return false;
}
