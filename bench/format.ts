import { MIB, type Stat } from './stats.ts';

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

export function rate(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(0)} k`;
  return value.toFixed(1);
}

export function mib(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / MIB).toFixed(0)} MiB` : '–';
}

export function signedMib(bytes: number): string {
  if (!Number.isFinite(bytes)) return '–';
  const value = bytes / MIB;
  return `${value >= 0 ? '+' : ''}${value.toFixed(1)} MiB`;
}

export function seconds(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '–';
}

/** `0.42 (0.40–0.45)`: the median and its spread over the runs. */
export function spread(s: Stat, digits = 2): string {
  if (!Number.isFinite(s.median)) return '–';
  if (s.values.length < 2) return `${s.median.toFixed(digits)} (1 run)`;
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

/** Plain fixed-width columns for a terminal. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
