import type { SizePoint } from './scenarios/sizes.ts';
import { MIB } from './stats.ts';

/**
 * A small hand-written SVG (no plotting dependency): throughput of chute and of the ceiling (left axis,
 * median with min–max bars) and chute's peak RSS (right axis) against object size on a log scale.
 */
const WIDTH = 760;
const HEIGHT = 420;
const LEFT = 70;
const RIGHT = 80;
const TOP = 60;
const BOTTOM = 60;
const PLOT_W = WIDTH - LEFT - RIGHT;
const PLOT_H = HEIGHT - TOP - BOTTOM;

const CHUTE = '#1f6fb4';
const CEILING = '#8a8a8a';
const RSS = '#c0392b';

export function throughputRssSvg(
  points: readonly SizePoint[],
  rssLimitBytes: number,
  caption: string,
): string {
  // Positions and labels use the requested size (10, 100, 1000 MB); the files end within one row of it.
  const sorted = [...points].sort((a, b) => a.sizeMb - b.sizeMb);
  const sizes = sorted.map((p) => p.sizeMb);
  const lo = Math.log10(Math.min(...sizes) / 1.6);
  const hi = Math.log10(Math.max(...sizes) * 1.6);
  const x = (mb: number) => LEFT + ((Math.log10(mb) - lo) / (hi - lo || 1)) * PLOT_W;

  const rateMax = niceMax(
    Math.max(1, ...sorted.flatMap((p) => [p.chute.mbPerS.max, p.ceiling.mbPerS.max]).filter(Number.isFinite)),
  );
  const rssMax = niceMax(
    Math.max(rssLimitBytes / MIB, ...sorted.map((p) => p.chute.peakRssBytes / MIB)) * 1.1,
  );
  const yRate = (v: number) => TOP + PLOT_H - (v / rateMax) * PLOT_H;
  const yRss = (v: number) => TOP + PLOT_H - (v / rssMax) * PLOT_H;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>chute: throughput and peak RSS against object size (${escapeXml(caption)})</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    text(WIDTH / 2, 22, 'chute: throughput and peak RSS against object size', {
      anchor: 'middle',
      size: 15,
      weight: 'bold',
    }),
    text(WIDTH / 2, 40, caption, { anchor: 'middle', size: 11, fill: '#555' }),
  );
  // Grid and left axis (MB/s).
  for (const tick of ticks(rateMax)) {
    const y = yRate(tick);
    out.push(
      line(LEFT, y, LEFT + PLOT_W, y, '#e5e5e5'),
      text(LEFT - 8, y + 4, String(tick), { anchor: 'end' }),
    );
  }
  // Right axis (MiB).
  for (const tick of ticks(rssMax)) {
    out.push(text(LEFT + PLOT_W + 8, yRss(tick) + 4, String(tick), { fill: RSS }));
  }
  out.push(
    line(LEFT, TOP, LEFT, TOP + PLOT_H, '#333'),
    line(LEFT + PLOT_W, TOP, LEFT + PLOT_W, TOP + PLOT_H, RSS),
    line(LEFT, TOP + PLOT_H, LEFT + PLOT_W, TOP + PLOT_H, '#333'),
    text(18, TOP + PLOT_H / 2, 'throughput, MB/s (median, min–max)', { anchor: 'middle', rotate: true }),
    text(WIDTH - 16, TOP + PLOT_H / 2, 'chute peak RSS, MiB', { anchor: 'middle', rotate: true, fill: RSS }),
    text(LEFT + PLOT_W / 2, HEIGHT - 14, 'object size, MB (log scale)', { anchor: 'middle' }),
  );
  for (const mb of sizes) {
    out.push(
      line(x(mb), TOP + PLOT_H, x(mb), TOP + PLOT_H + 5, '#333'),
      text(x(mb), TOP + PLOT_H + 20, mb >= 1000 ? `${mb / 1000} GB` : `${mb} MB`, { anchor: 'middle' }),
    );
  }
  // The RSS limit.
  const limit = yRss(rssLimitBytes / MIB);
  out.push(
    `<line x1="${LEFT}" y1="${r(limit)}" x2="${LEFT + PLOT_W}" y2="${r(limit)}" stroke="${RSS}" stroke-dasharray="2 4" stroke-width="1"/>`,
    text(LEFT + 6, limit - 5, `RSS target ${Math.round(rssLimitBytes / MIB)} MiB`, { fill: RSS, size: 11 }),
  );
  // Series.
  out.push(
    series(
      sorted.map((p) => [x(p.sizeMb), yRate(p.ceiling.mbPerS.median)]),
      CEILING,
      '6 4',
    ),
  );
  out.push(
    series(
      sorted.map((p) => [x(p.sizeMb), yRate(p.chute.mbPerS.median)]),
      CHUTE,
    ),
  );
  out.push(
    series(
      sorted.map((p) => [x(p.sizeMb), yRss(p.chute.peakRssBytes / MIB)]),
      RSS,
    ),
  );
  for (const p of sorted) {
    const px = x(p.sizeMb);
    for (const [side, color] of [
      [p.ceiling, CEILING],
      [p.chute, CHUTE],
    ] as const) {
      if (Number.isFinite(side.mbPerS.min) && side.mbPerS.max > side.mbPerS.min) {
        out.push(line(px, yRate(side.mbPerS.min), px, yRate(side.mbPerS.max), color));
      }
      out.push(`<circle cx="${r(px)}" cy="${r(yRate(side.mbPerS.median))}" r="4" fill="${color}"/>`);
    }
    const ry = yRss(p.chute.peakRssBytes / MIB);
    out.push(`<rect x="${r(px - 4)}" y="${r(ry - 4)}" width="8" height="8" fill="${RSS}"/>`);
    out.push(text(px + 8, ry - 6, `${Math.round(p.chute.peakRssBytes / MIB)}`, { fill: RSS, size: 11 }));
  }
  // Legend.
  const legend: [string, string, string | undefined][] = [
    ['chute MB/s', CHUTE, undefined],
    ['ceiling MB/s (raw POST)', CEILING, '6 4'],
    ['chute peak RSS', RSS, undefined],
  ];
  legend.forEach(([label, color, dash], i) => {
    const lx = LEFT + 10 + i * 200;
    const ly = TOP - 8;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      text(lx + 30, ly + 4, label),
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function niceMax(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

function ticks(max: number): number[] {
  return Array.from({ length: 6 }, (_, i) => Math.round(((max * i) / 5) * 100) / 100);
}

function r(value: number): string {
  return value.toFixed(1);
}

function line(x1: number, y1: number, x2: number, y2: number, color: string): string {
  return `<line x1="${r(x1)}" y1="${r(y1)}" x2="${r(x2)}" y2="${r(y2)}" stroke="${color}" stroke-width="1"/>`;
}

function series(points: [number, number][], color: string, dash?: string): string {
  const d = points.map(([px, py]) => `${r(px)},${r(py)}`).join(' ');
  return `<polyline points="${d}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`;
}

function text(
  x: number,
  y: number,
  content: string,
  style: {
    anchor?: 'start' | 'middle' | 'end';
    size?: number;
    weight?: string;
    fill?: string;
    rotate?: boolean;
  } = {},
): string {
  const attributes = [
    `x="${r(x)}"`,
    `y="${r(y)}"`,
    style.anchor ? `text-anchor="${style.anchor}"` : '',
    style.size ? `font-size="${style.size}"` : '',
    style.weight ? `font-weight="${style.weight}"` : '',
    style.fill ? `fill="${style.fill}"` : '',
    style.rotate ? `transform="rotate(-90 ${r(x)} ${r(y)})"` : '',
  ].filter((a) => a !== '');
  return `<text ${attributes.join(' ')}>${escapeXml(content)}</text>`;
}

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
