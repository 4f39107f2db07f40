// Chart functions: the Pareto front, tick choice, and the SVG they emit (marks, data attributes, escaping).
import { describe, expect, it } from "vitest";
import { barSvg, escapeXml, histogramSvg, lineSvg, niceTicks, paretoFront, scatterSvg } from "@worker/dashboard/charts";

/** Attribute values of every element with the given class, in document order. */
function marks(svg: string, cls: string, attr: string): string[] {
  const tags = svg.match(new RegExp(`<[a-z]+ class="${cls}"[^>]*>`, "g")) ?? [];
  return tags.map((t) => new RegExp(`${attr}="([^"]*)"`).exec(t)?.[1] ?? "<missing>");
}

describe("paretoFront", () => {
  it("keeps the points no other point beats on both size and accuracy, ordered by size", () => {
    //  y
    //  3 |        c     e
    //  2 |    b      d
    //  1 | a
    //    +------------------ x
    const pts = [
      { x: 1, y: 1 }, // a: smallest
      { x: 2, y: 2 }, // b
      { x: 4, y: 3 }, // c
      { x: 5, y: 2 }, // d: beaten by c (smaller and more accurate)
      { x: 6, y: 3 }, // e: ties c on accuracy but is larger
    ];
    expect(paretoFront(pts)).toEqual([0, 1, 2]);
  });

  it("keeps only the more accurate of two points of the same size", () => {
    expect(paretoFront([{ x: 3, y: 1 }, { x: 3, y: 2 }])).toEqual([1]);
  });

  it("is a single point when one point dominates all others", () => {
    expect(paretoFront([{ x: 5, y: 0 }, { x: 1, y: 9 }, { x: 3, y: 4 }])).toEqual([1]);
  });

  it("is empty for no points", () => {
    expect(paretoFront([])).toEqual([]);
  });
});

describe("niceTicks", () => {
  it("steps by 1, 2 or 5 times a power of ten inside the range", () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(9_500, 41_000, 4)).toEqual([10_000, 20_000, 30_000, 40_000]);
    expect(niceTicks(-0.62, 0.55, 4)).toEqual([-0.5, 0, 0.5]);
  });
});

describe("scatterSvg", () => {
  const svg = scatterSvg({
    title: "size vs accuracy",
    points: [
      { x: 40_000, y: 0, label: "FP32" },
      { x: 11_000, y: -0.3, label: "int8" },
      { x: 20_000, y: -0.5, label: "pruned" }, // beaten by int8: smaller and more accurate
      { x: 6_000, y: null, label: "int4" },
    ],
    x: { label: "bytes" },
    y: { label: "Δ pp" },
  });

  it("draws one circle per point with its numbers, measured or not", () => {
    expect(marks(svg, "point", "data-label")).toEqual(["FP32", "int8", "pruned", "int4"]);
    expect(marks(svg, "point", "data-x")).toEqual(["40000", "11000", "20000", "6000"]);
    expect(marks(svg, "point", "data-y")).toEqual(["0", "-0.3", "-0.5", ""]);
  });

  it("marks the front and draws it as one line through the front's points in size order", () => {
    expect(marks(svg, "point", "data-front")).toEqual(["true", "true", "false", "false"]);
    expect(marks(svg, "pareto", "data-labels")).toEqual(["int8|FP32"]);
  });

  it("places larger sizes further right and higher accuracy further up", () => {
    const cx = marks(svg, "point", "cx").map(Number);
    const cy = marks(svg, "point", "cy").map(Number);
    expect(cx[0]).toBeGreaterThan(cx[2]!);
    expect(cx[2]).toBeGreaterThan(cx[1]!);
    expect(cy[0]).toBeLessThan(cy[1]!); // SVG y grows downwards
    expect(cy[1]).toBeLessThan(cy[2]!);
  });

  it("is an accessible image with a title", () => {
    expect(svg).toMatch(/^<svg class="chart" data-chart="scatter"[^>]* role="img" aria-label="size vs accuracy"/);
    expect(svg).toContain("<title>size vs accuracy</title>");
    expect(svg.endsWith("</svg>")).toBe(true);
  });

  it("escapes labels", () => {
    const s = scatterSvg({ title: "t", points: [{ x: 1, y: 1, label: `<b>"x"&` }], x: { label: "x" }, y: { label: "y" } });
    expect(s).not.toContain("<b>");
    expect(s).toContain("&lt;b&gt;&quot;x&quot;&amp;");
  });

  it("draws no front when nothing is measured", () => {
    const s = scatterSvg({ title: "t", points: [{ x: 1, y: null, label: "a" }], x: { label: "x" }, y: { label: "y" } });
    expect(s).not.toContain('class="pareto"');
    expect(marks(s, "point", "data-front")).toEqual(["false"]);
  });
});

describe("barSvg", () => {
  it("draws bars whose widths are proportional to their values", () => {
    const svg = barSvg({ title: "bytes", bars: [{ label: "FP32", value: 400 }, { label: "int8", value: 100, display: "100 B" }] });
    expect(marks(svg, "bar", "data-value")).toEqual(["400", "100"]);
    const [w0, w1] = marks(svg, "bar", "width").map(Number);
    expect(w0! / w1!).toBeCloseTo(4, 5);
    expect(svg).toContain(">100 B</text>");
  });
});

describe("histogramSvg", () => {
  it("draws one bin per count between consecutive edges, heights proportional to counts", () => {
    const svg = histogramSvg({ title: "latency", edges: [0, 1, 2, 4], counts: [5, 10, 0], x: { label: "ms" } });
    expect(marks(svg, "bin", "data-count")).toEqual(["5", "10", "0"]);
    expect(marks(svg, "bin", "data-from")).toEqual(["0", "1", "2"]);
    const [h0, h1, h2] = marks(svg, "bin", "height").map(Number);
    expect(h1! / h0!).toBeCloseTo(2, 5);
    expect(h2).toBe(0);
  });

  it("rejects edges that do not bracket the counts", () => {
    expect(() => histogramSvg({ title: "t", edges: [0, 1], counts: [1, 2], x: { label: "ms" } })).toThrow(RangeError);
  });
});

describe("lineSvg", () => {
  it("draws one polyline per series with as many vertices as points", () => {
    const svg = lineSvg({
      title: "agreement",
      series: [
        { label: "int8", points: [{ x: 0, y: 1 }, { x: 1, y: 0.98 }, { x: 2, y: 0.99 }] },
        { label: "int4", points: [{ x: 0, y: 0.9 }] },
      ],
      x: { label: "t" },
      y: { label: "agreement" },
      yDomain: [0, 1],
    });
    expect(marks(svg, "series", "data-label")).toEqual(["int8", "int4"]);
    expect(marks(svg, "series", "points").map((p) => p.split(" ").length)).toEqual([3, 1]);
  });
});

describe("escapeXml", () => {
  it("escapes the five XML special characters", () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });
});

describe("scatterSvg labels", () => {
  it("moves a label that would overlap an earlier one to another corner of its point", () => {
    const svg = scatterSvg({
      title: "t",
      points: [
        { x: 100, y: 0, label: "int8" },
        { x: 101, y: 0, label: "int8 static" },
        { x: 1000, y: -5, label: "far" },
      ],
      x: { label: "x" },
      y: { label: "y" },
    });
    const at = [...svg.matchAll(/<text class="point-label" x="([^"]+)" y="([^"]+)">([^<]+)<\/text>/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]), label: m[3] }));
    expect(at.map((a) => a.label)).toEqual(["int8", "int8 static", "far"]);
    const box = (a: { x: number; y: number; label?: string }) => ({ x0: a.x, x1: a.x + a.label!.length * 6, y0: a.y - 10, y1: a.y });
    const [a, b] = [box(at[0]!), box(at[1]!)];
    const overlap = a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
    expect(overlap).toBe(false);
  });
});
