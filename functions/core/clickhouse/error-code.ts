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
