import type { MachineInfo } from './env.ts';
import { fixed, markdownTable, mib, rate, seconds, signedMib, spread, textTable } from './format.ts';
import type { SideSummary } from './paired.ts';
import type { ScenarioResult } from './scenarios/index.ts';
import { SLICED_BUDGET_FACTOR, type ThroughputResult } from './scenarios/throughput.ts';
import type { Stat } from './stats.ts';

export interface BenchReport {
  version: 1;
  mode: 'full' | 'smoke' | 'partial';
  machine: MachineInfo;
  options: {
    runs: number;
    rows: number;
    sizesMb: number[];
    smallFiles: number;
    warmInvocations: number;
    scenarioBudgetS: number;
  };
  durationS: number;
  /** 1-minute load average sampled every 5 s during the run. */
  loadAverage: Stat;
  scenarios: ScenarioResult[];
  /** Correctness failures (errors, lost or duplicated rows, bad rows missing from rejects). Never timing. */
  failures: string[];
}

interface Section {
  title: string;
  header: string[];
  rows: string[][];
  notes?: string[];
}

const IN_PROCESS = 'in the process';

function verdict(result: { met: boolean; failures: string[] }, hasTarget = true): string {
  if (result.failures.length > 0) return 'FAILED';
  if (!hasTarget) return '–';
  return result.met ? 'met' : 'missed';
}

function throughputCell(side: SideSummary, basis: ThroughputResult['basis']): string {
  return basis === 'files/s'
    ? `${fixed(side.filesPerS.median, 1)} files/s`
    : `${fixed(side.mbPerS.median, 1)} MB/s`;
}

function sections(report: BenchReport): Section[] {
  const out: Section[] = [];
  const throughput = report.scenarios.filter((s): s is ThroughputResult => s.kind === 'throughput');
  if (throughput.length > 0) {
    out.push({
      title: 'chute against the ceiling (same data, same engine, same table)',
      header: [
        'scenario',
        'runs',
        'chute',
        'ceiling',
        'chute rows/s',
        'ratio (min–max)',
        'chute peak RSS',
        'target',
        'verdict',
      ],
      rows: throughput.map((r) => [
        r.title,
        String(r.runs),
        throughputCell(r.chute, r.basis),
        throughputCell(r.ceiling, r.basis),
        rate(r.chute.rowsPerS.median),
        spread(r.ratio),
        r.engineInProcess ? `${mib(r.chute.peakRssBytes)} (chDB's included)` : mib(r.chute.peakRssBytes),
        r.rejectsFound === undefined
          ? r.target
          : `${r.target} (${r.rejectsFound.toLocaleString('en-US')}/${r.work.badRows.toLocaleString('en-US')} found)`,
        verdict(r, r.reference !== true),
      ]),
      notes: [
        'ratio = ceiling wall time / chute wall time, per alternated pair of runs; median (min–max) over the pairs.',
        'MB/s and rows/s count the source data (decompressed bytes, all rows), so both sides do the same work.',
      ],
    });
    out.push({
      title: 'where the time goes (medians; CPU seconds of each party during one run)',
      header: [
        'scenario',
        'chute wall',
        'chute process CPU',
        'ClickHouse CPU',
        's3rver CPU',
        'ceiling wall',
        'ceiling client CPU',
        'ClickHouse CPU (ceiling)',
      ],
      rows: throughput.map((r) => [
        r.id,
        seconds(r.chute.wallMs.median),
        seconds(r.chute.cpuMs.client.median),
        r.engineInProcess ? IN_PROCESS : seconds(r.chute.cpuMs.server.median),
        seconds(r.chute.cpuMs.s3.median),
        seconds(r.ceiling.wallMs.median),
        seconds(r.ceiling.cpuMs.client.median),
        r.engineInProcess ? IN_PROCESS : seconds(r.ceiling.cpuMs.server.median),
      ]),
      notes: [
        'CPU seconds above the wall time mean more than one of the 2 cores was busy.',
        ...(throughput.some((r) => r.engineInProcess)
          ? [
              `${IN_PROCESS}: chDB runs inside the measured process (chute's or the ceiling's), so its CPU is in that process's column.`,
            ]
          : []),
      ],
    });
  }
  for (const result of report.scenarios) {
    if (result.kind === 'sizes') {
      out.push({
        title: `peak RSS and throughput against object size (target: ${result.target})`,
        header: ['object', 'rows', 'runs', 'chute MB/s', 'ceiling MB/s', 'ratio (min–max)', 'chute peak RSS'],
        rows: result.points.map((p) => [
          `${p.sizeMb} MB`,
          p.rows.toLocaleString('en-US'),
          String(p.runs),
          spread(p.chute.mbPerS, 1),
          spread(p.ceiling.mbPerS, 1),
          spread(p.ratio),
          mib(p.chute.peakRssBytes),
        ]),
        notes: [
          `largest object's peak RSS vs smallest's: ${Number.isFinite(result.rssGrowth) ? `${(result.rssGrowth * 100).toFixed(1)}%` : '–'}; verdict: ${verdict(result)}`,
          ...result.failures,
        ],
      });
    }
    if (result.kind === 'warm') {
      out.push({
        title: `${result.title} (target: ${result.target})`,
        header: ['figure', 'value'],
        rows: [
          [`RSS after invocation ${result.fromInvocation}`, mib(result.rssAtFromBytes)],
          [`RSS after invocation ${result.invocations}`, mib(result.rssAtLastBytes)],
          ['growth', signedMib(result.growthBytes)],
          ['growth, medians of 21 invocations', signedMib(result.growthSmoothedBytes)],
          ['peak RSS', mib(result.peakRssBytes)],
          [
            'open sockets to ClickHouse, max sampled',
            `${result.maxClickHouseSockets} (configured max ${result.configuredMaxSockets})`,
          ],
          ['connection errors', String(result.connectionErrors)],
          [
            'invocation time, median (min–max)',
            `${fixed(result.durationMs.median, 0)} ms (${fixed(result.durationMs.min, 0)}–${fixed(result.durationMs.max, 0)})`,
          ],
          ['verdict', verdict(result)],
        ],
        ...(result.failures.length > 0 ? { notes: result.failures } : {}),
      });
    }
    if (result.kind === 'bounds') {
      out.push({
        title: 'rates of the parts chute does not control (each alone, in a process of its own)',
        header: ['part', 'rate, median (min–max)'],
        rows: [
          [
            'one S3 GET stream from the local s3rver, read to the end',
            `${spread(result.s3GetMbPerS, 0)} MB/s`,
          ],
          [
            "the same GET through the SDK's CRC64-NVME check (on AWS, for objects stored with that checksum; not paid here)",
            `${spread(result.s3GetCrc64MbPerS, 0)} MB/s`,
          ],
          ["node's streaming gunzip (decompressed bytes)", `${spread(result.gunzipMbPerS, 0)} MB/s`],
          ['ClickHouse parsing and writing one insert stream', 'the ceiling column above'],
        ],
      });
    }
    if (result.kind === 'cold-start') {
      out.push({
        title: `cold start (target: ${result.target})`,
        header: ['figure', 'value'],
        rows: [
          [
            'bundled handler, minified',
            `${(result.bundleBytes / 1024).toFixed(0)} KiB (${result.bundleBytes.toLocaleString('en-US')} bytes)`,
          ],
          [
            `module import, median of ${result.importMs.values.length} fresh processes (min–max)`,
            `${spread(result.importMs, 0)} ms`,
          ],
          ['RSS after import', mib(result.rssAfterImportBytes.median)],
          ['verdict', verdict(result)],
        ],
        ...(result.failures.length > 0 ? { notes: result.failures } : {}),
      });
    }
  }
  return out;
}

function headline(report: BenchReport): string {
  const m = report.machine;
  return `${m.date.slice(0, 16).replace('T', ' ')} UTC, ${report.mode} run in ${(report.durationS / 60).toFixed(1)} min: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Linux ${m.kernel}, node ${m.node}, ClickHouse ${m.clickhouse}, load average ${m.loadAverageAtStart} at start and ${fixed(report.loadAverage.median, 1)} (max ${fixed(report.loadAverage.max, 1)}) during the run; chute at ${m.commit}${m.functionsDirty ? ' with uncommitted changes in functions/' : ''}`;
}

export function renderText(report: BenchReport): string {
  const parts = [`chute bench, ${headline(report)}`];
  for (const section of sections(report)) {
    parts.push(
      '',
      section.title,
      textTable(section.header, section.rows),
      ...(section.notes ?? []).map((n) => `  ${n}`),
    );
  }
  parts.push(
    '',
    report.failures.length === 0
      ? 'correctness: every run loaded every row, every bad row in rejects'
      : 'CORRECTNESS FAILURES:',
  );
  for (const failure of report.failures) parts.push(`  ${failure}`);
  return `${parts.join('\n')}\n`;
}

export function renderMarkdown(report: BenchReport, plotPath: string | undefined): string {
  const parts = [`Latest run: ${headline(report)}.`];
  parts.push(
    '',
    `Settings: ${report.options.runs} runs per scenario (fewer where the ${report.options.scenarioBudgetS} s budget, ${Math.round(report.options.scenarioBudgetS * SLICED_BUDGET_FACTOR)} s for the many-file scenarios, ran out; the runs column says how many), ${report.options.rows.toLocaleString('en-US')} rows, sizes ${report.options.sizesMb.join(', ')} MB, ${report.options.smallFiles} small files, ${report.options.warmInvocations} warm invocations.`,
  );
  for (const section of sections(report)) {
    parts.push('', `#### ${section.title}`, '', markdownTable(section.header, section.rows));
    if (section.notes !== undefined && section.notes.length > 0)
      parts.push('', ...section.notes.map((n) => `- ${n}`));
  }
  if (plotPath !== undefined) parts.push('', `![throughput and peak RSS against object size](${plotPath})`);
  parts.push(
    '',
    report.failures.length === 0
      ? 'Correctness: every run loaded every row, and every bad row was found in rejects at its own line.'
      : `Correctness failures: ${report.failures.join('; ')}`,
  );
  return parts.join('\n');
}
