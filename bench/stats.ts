/** Median and spread of a handful of runs: what a benchmark with 3-5 runs can honestly report. */
export interface Stat {
  median: number;
  min: number;
  max: number;
  values: number[];
}

export function stat(values: readonly number[]): Stat {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, values: [] };
  const sorted = [...finite].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[middle] as number)
      : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number, values: [...finite] };
}

export const MB = 1_000_000;
export const MIB = 1024 * 1024;
