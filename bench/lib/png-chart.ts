import zlib from 'node:zlib';

/**
 * A small line chart as PNG, with no dependency: RGB pixels, a 5x7 bitmap
 * font for labels, zlib for the IDAT chunk. One panel per series group, so
 * figures with different units (MiB, count, ms) each get their own y axis.
 */
export interface Series {
  name: string;
  points: [number, number][];
  color?: [number, number, number];
}
export interface Panel {
  title: string;
  series: Series[];
}

const PALETTE: [number, number, number][] = [
  [31, 119, 180],
  [214, 39, 40],
  [44, 160, 44],
  [255, 127, 14],
  [148, 103, 189],
  [140, 86, 75],
];

// 5x7 glyphs, one string of 7 rows of 5 bits (as 0-31) per character.
const FONT: Record<string, number[]> = {
  '0': [14, 17, 19, 21, 25, 17, 14],
  '1': [4, 12, 4, 4, 4, 4, 14],
  '2': [14, 17, 1, 2, 4, 8, 31],
  '3': [31, 2, 4, 2, 1, 17, 14],
  '4': [2, 6, 10, 18, 31, 2, 2],
  '5': [31, 16, 30, 1, 1, 17, 14],
  '6': [6, 8, 16, 30, 17, 17, 14],
  '7': [31, 1, 2, 4, 8, 8, 8],
  '8': [14, 17, 17, 14, 17, 17, 14],
  '9': [14, 17, 17, 15, 1, 2, 12],
  '.': [0, 0, 0, 0, 0, 12, 12],
  '-': [0, 0, 0, 31, 0, 0, 0],
  ' ': [0, 0, 0, 0, 0, 0, 0],
  ':': [0, 12, 12, 0, 12, 12, 0],
  '/': [1, 1, 2, 4, 8, 16, 16],
  '%': [24, 25, 2, 4, 8, 19, 3],
  '(': [2, 4, 8, 8, 8, 4, 2],
  ')': [8, 4, 2, 2, 2, 4, 8],
  _: [0, 0, 0, 0, 0, 0, 31],
  A: [14, 17, 17, 31, 17, 17, 17],
  B: [30, 17, 17, 30, 17, 17, 30],
  C: [14, 17, 16, 16, 16, 17, 14],
  D: [28, 18, 17, 17, 17, 18, 28],
  E: [31, 16, 16, 30, 16, 16, 31],
  F: [31, 16, 16, 30, 16, 16, 16],
  G: [14, 17, 16, 23, 17, 17, 15],
  H: [17, 17, 17, 31, 17, 17, 17],
  I: [14, 4, 4, 4, 4, 4, 14],
  J: [7, 2, 2, 2, 2, 18, 12],
  K: [17, 18, 20, 24, 20, 18, 17],
  L: [16, 16, 16, 16, 16, 16, 31],
  M: [17, 27, 21, 21, 17, 17, 17],
  N: [17, 17, 25, 21, 19, 17, 17],
  O: [14, 17, 17, 17, 17, 17, 14],
  P: [30, 17, 17, 30, 16, 16, 16],
  Q: [14, 17, 17, 17, 21, 18, 13],
  R: [30, 17, 17, 30, 20, 18, 17],
  S: [15, 16, 16, 14, 1, 1, 30],
  T: [31, 4, 4, 4, 4, 4, 4],
  U: [17, 17, 17, 17, 17, 17, 14],
  V: [17, 17, 17, 17, 17, 10, 4],
  W: [17, 17, 17, 21, 21, 21, 10],
  X: [17, 17, 10, 4, 10, 17, 17],
  Y: [17, 17, 17, 10, 4, 4, 4],
  Z: [31, 1, 2, 4, 8, 16, 31],
};

class Canvas {
  readonly px: Buffer;
  constructor(
    readonly w: number,
    readonly h: number,
  ) {
    this.px = Buffer.alloc(w * h * 3, 255);
  }
  set(x: number, y: number, c: [number, number, number]): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return;
    const i = (y * this.w + x) * 3;
    this.px[i] = c[0];
    this.px[i + 1] = c[1];
    this.px[i + 2] = c[2];
  }
  line(x0: number, y0: number, x1: number, y1: number, c: [number, number, number]): void {
    const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      this.set(x, y, c);
      this.set(x, y + 1, c);
    }
  }
  text(x: number, y: number, s: string, c: [number, number, number] = [40, 40, 40]): void {
    for (const ch of s.toUpperCase()) {
      const g = FONT[ch] ?? FONT[' ']!;
      for (let row = 0; row < 7; row++) for (let col = 0; col < 5; col++) if ((g[row]! >> (4 - col)) & 1) this.set(x + col, y + row, c);
      x += 6;
    }
  }
  png(): Buffer {
    const raw = Buffer.alloc((this.w * 3 + 1) * this.h);
    for (let y = 0; y < this.h; y++) this.px.copy(raw, y * (this.w * 3 + 1) + 1, y * this.w * 3, (y + 1) * this.w * 3);
    const chunk = (type: string, data: Buffer): Buffer => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(zlib.crc32(td));
      return Buffer.concat([len, td, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(this.w, 0);
    ihdr.writeUInt32BE(this.h, 4);
    ihdr[8] = 8; // bit depth
    ihdr[9] = 2; // RGB
    return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
  }
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}K`;
  return a >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1);
}

/** Render panels stacked vertically; x is shared in spirit (e.g. minutes), each panel scales its own. */
export function renderChart(panels: Panel[], opts: { width?: number; panelHeight?: number; xLabel?: string } = {}): Buffer {
  const W = opts.width ?? 900;
  const PH = opts.panelHeight ?? 200;
  const c = new Canvas(W, PH * panels.length + 20);
  const left = 60;
  const right = W - 20;
  panels.forEach((panel, pi) => {
    const top = pi * PH + 22;
    const bottom = top + PH - 64;
    const pts = panel.series.flatMap((s) => s.points);
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    const xmin = Math.min(...xs, 0);
    const xmax = Math.max(...xs, xmin + 1);
    const ymin = Math.min(0, ...ys);
    const ymax = Math.max(...ys, ymin + 1) * 1.05;
    const X = (x: number): number => left + ((x - xmin) / (xmax - xmin)) * (right - left);
    const Y = (y: number): number => bottom - ((y - ymin) / (ymax - ymin)) * (bottom - top);
    c.text(left, top - 14, panel.title);
    c.line(left, top, left, bottom, [0, 0, 0]);
    c.line(left, bottom, right, bottom, [0, 0, 0]);
    for (let i = 0; i <= 4; i++) {
      const yv = ymin + ((ymax - ymin) * i) / 4;
      c.line(left - 3, Y(yv), left, Y(yv), [0, 0, 0]);
      c.text(4, Y(yv) - 3, fmt(yv));
      const xv = xmin + ((xmax - xmin) * i) / 4;
      c.text(X(xv) - 6, bottom + 6, fmt(xv));
    }
    if (opts.xLabel) c.text(right - opts.xLabel.length * 6, bottom + 16, opts.xLabel);
    panel.series.forEach((s, si) => {
      const col = s.color ?? PALETTE[si % PALETTE.length]!;
      const sorted = [...s.points].sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < sorted.length; i++) c.line(X(sorted[i - 1]![0]), Y(sorted[i - 1]![1]), X(sorted[i]![0]), Y(sorted[i]![1]), col);
      c.text(left + 10 + si * 150, bottom + 26, s.name, col);
    });
  });
  return c.png();
}
