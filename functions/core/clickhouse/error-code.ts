import { ClickHouseError } from '@clickhouse/client';

/**
 * The server's numeric error code. @clickhouse/client types an error only when the message ends with a
 * `(TYPE_NAME)` marker, which servers before about 20.x do not write; their `Code: 27, e.displayText()`
 * prefix still carries the code.
 */
export function clickHouseErrorCode(error: unknown): string | undefined {
  if (error instanceof ClickHouseError) return error.code;
  if (!(error instanceof Error)) return undefined;
  return /(?:^|\s)Code: (\d+)[.,]/.exec(error.message)?.[1];
}
