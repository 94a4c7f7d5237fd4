export const HELP = `chute — load a file into a ClickHouse table, the same way the Lambda does

Usage:
  npm run chute -- ingest <local-file | s3://bucket/key> --table <db.table> [options]
  npm run chute -- history [--failed] [--since 24h|7d|<date>] [--key <prefix>] [--limit n] [--json]
                           [--ledger <table>]
  npm run chute -- --help

Connection:
  CLICKHOUSE_URL        required, e.g. http://default:@127.0.0.1:8123/default
                        (user, password and database may be in the URL)
  CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE override the URL's parts.

Format options:
  --table <name>            target table, "table" or "database.table" (required)
  --format <csv|tsv|ndjson> default: from the file name (.csv, .tsv/.tab, .ndjson/.jsonl, also with .gz)
  --delimiter <char>        CSV field delimiter (default ",")
  --no-header               the first line is data; then --columns is required
  --columns <a,b,c>         column names in file order, for files without a header
  --compression <mode>      auto | gzip | none (default auto: gzip magic bytes, then a .gz name)
  --extra-columns <mode>    fail | ignore header columns the table lacks (default fail)

Bad rows:
  --bad-rows <policy>       reject (default): bad rows go to the rejects file, good rows load
                            fail: the first bad row fails the file
  --max-rejected <n>        more rejected rows than this fails the file (default 1000)
  --rejects <path|s3://b/p> where rejected rows go (default: <file>.rejects.ndjson next to a local
                            file; s3://<bucket>/chute-rejects/ for an S3 object)

Tuning:
  --chunk-bytes <n>         bytes per insert (default 16777216)
  --chunk-rows <n>          rows per insert (default 500000)
  --max-record-bytes <n>    longest record accepted (default 1048576); longer ones are rejected
  --inserts-in-flight <n>   chunks inserting at once, 1-4 (default 2: the next chunk is read while
                            ClickHouse finishes the one before; 1 holds one chunk buffer less)

S3 sources:
  --version-id <id>         load this object version (default: the current one)
  --s3-endpoint <url>       an S3-compatible endpoint (default: AWS, or AWS_ENDPOINT_URL_S3)
  AWS credentials come from the usual AWS SDK chain (environment, profile, role).

Exactly once:
  --ledger <table>          the load history (default chute_load_history, created on first use: the
                            table <name>_log, read through the views <name> and <name>_chunks):
                            an object version already loaded is skipped, a failed one resumes after
                            the chunks it committed
  --no-ledger               do not read or write the load history
  --at-least-once           load into a table that does not deduplicate (exactly-once refuses it)

History (npm run chute -- history):
  --failed                  only failed and rejected-file attempts
  --since <when>            24h, 7d, 30m, or a date such as 2026-11-01 or 2026-11-01T10:00
                            (UTC unless a zone such as Z or +01:00 follows)
  --key <prefix>            only objects whose key starts with this
  --limit <n>               newest n attempts, 1 to 10000 (default 50)
  --json                    one JSON line per attempt

Output:
  --quiet                   no progress lines
  -h, --help                this text

A progress line goes to stderr as chunks load; one JSON summary line goes to stdout at the end.
Exit codes: 0 loaded, 1 the file failed (summary says why), 2 bad usage or configuration.
`;
