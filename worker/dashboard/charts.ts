// Inline SVG charts as pure functions of plain data (scatter with Pareto front, bars, histogram, lines): no
// dependencies, no script; every mark carries data-* attributes and a <title> so tests and screen readers can read it.

export interface ScatterPoint {
  x: number;
  /** null: not measured yet; drawn hollow on a rail under the plot, never on the front. */
  y: number | null;
  label: string;
}

export interface Axis {
  label: string;
  format?: (v: number) => string;
}

const W = 480;
const H = 300;
const M = { top: 16, right: 16, bottom: 48, left: 64 };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

const num = (v: number) => String(Math.round(v * 100) / 100);
const defaultFormat = (v: number) => (Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01) ? v.toPrecision(3) : String(Number(v.toFixed(3))));

/**
 * Indices of the Pareto-optimal points when smaller x and larger y are better, ordered by x.
 * A point is on the front when no other point is at least as good on both and strictly better on one.
 */
export function paretoFront(points: readonly { x: number; y: number }[]): number[] {
  const order = points.map((_, i) => i).sort((a, b) => points[a]!.x - points[b]!.x || points[b]!.y - points[a]!.y);
  const front: number[] = [];
  let bestY = -Infinity;
  for (const i of order) {
    if (points[i]!.y > bestY) {
      front.push(i);
      bestY = points[i]!.y;
    }
  }
  return front;
}

/** About `count` round tick values covering [min, max] (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** [min, max] widened by a margin (and to a unit span when flat) so marks never sit on the frame. */
function domain(values: number[], pad = 0.08): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) [lo, hi] = [lo - (Math.abs(lo) || 1) * 0.5, hi + (Math.abs(hi) || 1) * 0.5];
  const span = hi - lo;
  return [lo - span * pad, hi + span * pad];
}

const scale = (d: [number, number], r: [number, number]) => (v: number) => r[0] + ((v - d[0]) / (d[1] - d[0])) * (r[1] - r[0]);

function frame(title: string, body: string[], kind: string): string {
  return [
    `<svg class="chart" data-chart="${kind}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeXml(title)}" xmlns="http://www.w3.org/2000/svg">`,
    `<title>${escapeXml(title)}</title>`,
    ...body,
    `</svg>`,
  ].join("");
}

function axes(xTicks: { v: number; px: number }[], yTicks: { v: number; py: number }[], x: Axis, y: Axis): string[] {
  const fx = x.format ?? defaultFormat;
  const fy = y.format ?? defaultFormat;
  const out = [
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="#8a94a3"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="#8a94a3"/>`,
  ];
  for (const t of xTicks) {
    out.push(`<line x1="${num(t.px)}" y1="${H - M.bottom}" x2="${num(t.px)}" y2="${H - M.bottom + 4}" stroke="#8a94a3"/>`);
    out.push(`<text class="x-tick" x="${num(t.px)}" y="${H - M.bottom + 16}" text-anchor="middle">${escapeXml(fx(t.v))}</text>`);
  }
  for (const t of yTicks) {
    out.push(`<line x1="${M.left}" y1="${num(t.py)}" x2="${W - M.right}" y2="${num(t.py)}" stroke="#e6e9ee"/>`);
    out.push(`<text class="y-tick" x="${M.left - 6}" y="${num(t.py + 4)}" text-anchor="end">${escapeXml(fy(t.v))}</text>`);
  }
  out.push(`<text class="x-label" x="${(M.left + W - M.right) / 2}" y="${H - 8}" text-anchor="middle">${escapeXml(x.label)}</text>`);
  out.push(`<text class="y-label" transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(y.label)}</text>`);
  return out;
}

/** Scatter of (x, y) points with the Pareto front (smaller x, larger y) drawn as a step line through its points. */
export function scatterSvg(opts: { title: string; points: ScatterPoint[]; x: Axis; y: Axis }): string {
  const measured = opts.points.map((p, i) => ({ ...p, i })).filter((p): p is ScatterPoint & { y: number; i: number } => p.y !== null);
  const rail = opts.points.length > measured.length;
  const bottom = H - M.bottom - (rail ? 22 : 0);
  const xd = domain(opts.points.map((p) => p.x));
  const yd = domain(measured.length ? measured.map((p) => p.y) : [0]);
  const sx = scale(xd, [M.left, W - M.right]);
  const sy = scale(yd, [bottom, M.top]);
  const fx = opts.x.format ?? defaultFormat;
  const fy = opts.y.format ?? defaultFormat;
  const body = axes(
    niceTicks(xd[0], xd[1], 4).map((v) => ({ v, px: sx(v) })),
    measured.length ? niceTicks(yd[0], yd[1], 4).map((v) => ({ v, py: sy(v) })) : [],
    opts.x,
    opts.y,
  );
  const front = paretoFront(measured).map((k) => measured[k]!);
  if (front.length > 0) {
    const steps: string[] = [];
    front.forEach((p, k) => {
      if (k > 0) steps.push(`${num(sx(p.x))},${num(sy(front[k - 1]!.y))}`);
      steps.push(`${num(sx(p.x))},${num(sy(p.y))}`);
    });
    body.push(`<polyline class="pareto" data-labels="${escapeXml(front.map((p) => p.label).join("|"))}" points="${steps.join(" ")}" fill="none" stroke="#2457c5" stroke-width="1.5" stroke-dasharray="4 3"/>`);
  }
  const onFront = new Set(front.map((p) => p.i));
  // Labels go above-right of their point, else the first other corner that overlaps no label placed before.
  const placed: { x0: number; y0: number; x1: number; y1: number }[] = [];
  const place = (cx: number, cy: number, text: string) => {
    const w = text.length * 6;
    const corners = [[7, -7], [7, 15], [-7 - w, -7], [-7 - w, 15]] as const;
    const boxes = corners.map(([dx, dy]) => ({ x0: cx + dx, y0: cy + dy - 10, x1: cx + dx + w, y1: cy + dy }));
    const free = boxes.find((b) => !placed.some((o) => b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1)) ?? boxes[0]!;
    placed.push(free);
    return { x: free.x0, y: free.y1 };
  };
  opts.points.forEach((p, i) => {
    const cx = num(sx(p.x));
    const measuredPoint = p.y !== null;
    const cy = measuredPoint ? num(sy(p.y!)) : num(H - M.bottom - 11);
    const fill = !measuredPoint ? "#fff" : onFront.has(i) ? "#2457c5" : "#8a94a3";
    const tip = `${p.label}: ${fx(p.x)}, ${measuredPoint ? fy(p.y!) : "not evaluated"}`;
    body.push(
      `<circle class="point" data-label="${escapeXml(p.label)}" data-x="${p.x}" data-y="${measuredPoint ? p.y : ""}" data-front="${onFront.has(i)}" cx="${cx}" cy="${cy}" r="5" fill="${fill}" stroke="#2457c5" stroke-width="1.5"><title>${escapeXml(tip)}</title></circle>`,
      ((at) => `<text class="point-label" x="${num(at.x)}" y="${num(at.y)}">${escapeXml(p.label)}</text>`)(place(Number(cx), Number(cy), p.label)),
    );
  });
  if (rail) body.push(`<text x="${W - M.right}" y="${H - M.bottom - 16}" text-anchor="end">hollow: not evaluated</text>`);
  return frame(opts.title, body, "scatter");
}

/** Horizontal bars, one per labelled value, with the value printed at the bar's end. */
export function barSvg(opts: { title: string; bars: { label: string; value: number; display?: string }[]; format?: (v: number) => string }): string {
  const rowH = 28;
  const height = M.top + opts.bars.length * rowH + 8;
  const left = 110;
  const max = Math.max(0, ...opts.bars.map((b) => b.value)) || 1;
  const sx = scale([0, max], [0, W - left - 90]);
  const body = opts.bars.map((b, k) => {
    const y = M.top + k * rowH;
    const text = b.display ?? (opts.format ?? defaultFormat)(b.value);
    return [
      `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${escapeXml(b.label)}</text>`,
      `<rect class="bar" data-label="${escapeXml(b.label)}" data-value="${b.value}" x="${left}" y="${y + 3}" width="${num(Math.max(1, sx(b.value)))}" height="${rowH - 10}" fill="#2457c5"><title>${escapeXml(`${b.label}: ${text}`)}</title></rect>`,
      `<text class="bar-value" x="${num(left + Math.max(1, sx(b.value)) + 6)}" y="${y + 15}">${escapeXml(text)}</text>`,
    ].join("");
  });
  return [
    `<svg class="chart" data-chart="bar" viewBox="0 0 ${W} ${height}" role="img" aria-label="${escapeXml(opts.title)}" xmlns="http://www.w3.org/2000/svg">`,
    `<title>${escapeXml(opts.title)}</title>`,
    ...body,
    `</svg>`,
  ].join("");
}

/** A histogram over bucket edges (counts.length === edges.length - 1). */
export function histogramSvg(opts: { title: string; edges: number[]; counts: number[]; x: Axis }): string {
  if (opts.edges.length !== opts.counts.length + 1) throw new RangeError(`histogram needs ${opts.counts.length + 1} edges for ${opts.counts.length} counts, got ${opts.edges.length}`);
  const xd: [number, number] = [opts.edges[0]!, opts.edges[opts.edges.length - 1]!];
  const yd: [number, number] = [0, Math.max(1, ...opts.counts)];
  const sx = scale(xd, [M.left, W - M.right]);
  const sy = scale(yd, [H - M.bottom, M.top]);
  const body = axes(
    opts.edges.length <= 12 ? opts.edges.map((v) => ({ v, px: sx(v) })) : niceTicks(xd[0], xd[1], 6).map((v) => ({ v, px: sx(v) })),
    niceTicks(0, yd[1], 4).map((v) => ({ v, py: sy(v) })),
    opts.x,
    { label: "requests", format: (v) => String(v) },
  );
  opts.counts.forEach((c, k) => {
    const x0 = sx(opts.edges[k]!);
    const x1 = sx(opts.edges[k + 1]!);
    body.push(
      `<rect class="bin" data-from="${opts.edges[k]}" data-to="${opts.edges[k + 1]}" data-count="${c}" x="${num(x0 + 1)}" y="${num(sy(c))}" width="${num(Math.max(1, x1 - x0 - 2))}" height="${num(sy(0) - sy(c))}" fill="#2457c5"><title>${escapeXml(`${opts.edges[k]}–${opts.edges[k + 1]}: ${c}`)}</title></rect>`,
    );
  });
  return frame(opts.title, body, "histogram");
}

const PALETTE = ["#2457c5", "#c2410c", "#1a7f37", "#8250df", "#9a6700"];

/** Lines over a shared x axis, one per series, with a legend. */
export function lineSvg(opts: { title: string; series: { label: string; points: { x: number; y: number }[] }[]; x: Axis; y: Axis; yDomain?: [number, number] }): string {
  const all = opts.series.flatMap((s) => s.points);
  const xd = domain(all.length ? all.map((p) => p.x) : [0], 0.02);
  const yd = opts.yDomain ?? domain(all.length ? all.map((p) => p.y) : [0]);
  const sx = scale(xd, [M.left, W - M.right]);
  const sy = scale(yd, [H - M.bottom, M.top]);
  const body = axes(niceTicks(xd[0], xd[1], 4).map((v) => ({ v, px: sx(v) })), niceTicks(yd[0], yd[1], 4).map((v) => ({ v, py: sy(v) })), opts.x, opts.y);
  opts.series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length]!;
    body.push(`<polyline class="series" data-label="${escapeXml(s.label)}" data-n="${s.points.length}" points="${s.points.map((p) => `${num(sx(p.x))},${num(sy(p.y))}`).join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`);
    body.push(`<text x="${W - M.right}" y="${M.top + 12 + k * 14}" text-anchor="end" fill="${color}" style="fill:${color}">${escapeXml(s.label)}</text>`);
  });
  return frame(opts.title, body, "line");
}
