/**
 * The node flags the function runs with (its NODE_OPTIONS), set by the CDK construct and used by the harness
 * that runs the bundled handler in tests and the benchmark, so that both measure what Lambda runs.
 *
 * `--max-semi-space-size=4` (MiB): V8 grows the young generation to 16 MiB a half by default, and its pages
 * are touched only as allocation cycles through them, so a warm container's RSS crept up by about 12 MiB
 * over its first few hundred invocations. Measured over 1,000 warm small-file invocations: RSS from invocation
 * 100 to 900 rose 91 -> 106 MiB by default, 82 -> 87 MiB with 4 MiB, at the same CPU time.
 */
export const FUNCTION_NODE_OPTIONS = '--enable-source-maps --max-semi-space-size=4';
