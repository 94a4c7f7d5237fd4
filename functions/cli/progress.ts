import type { Progress } from '../core/pipeline/summary.ts';

const MB = 1024 * 1024;

/** One line on stderr every `intervalMs` at most: enough to see a long file move, not enough to flood a log. */
export function progressPrinter(label: string, intervalMs = 2000): (progress: Progress) => void {
  let last = 0;
  return (progress) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    const seconds = Math.max(progress.elapsedMs, 1) / 1000;
    process.stderr.write(
      `chute: ${label}: ${(progress.bytesDecompressed / MB).toFixed(1)} MB read, ` +
        `${progress.rowsInserted.toLocaleString('en-US')} rows inserted, ${progress.rowsRejected} rejected, ` +
        `${(progress.bytesDecompressed / MB / seconds).toFixed(1)} MB/s\n`,
    );
  };
}
