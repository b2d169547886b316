// The sweep page's plots, drawn as SVG elements (no vega): parallel coordinates of the swept params and a metric,
// and a scatter of one param against the metric. Names and values go in as text nodes and attribute values
// (setAttribute), never as markup.
import type { Leaf } from '../../report/flatten.js';
import { leaf, number } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

type SvgChild = SVGElement | string;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number | undefined> = {}, ...children: SvgChild[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined) node.setAttribute(name, String(value));
  for (const child of children) node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  return node;
}

/** One axis: its title and each line's value on it (undefined where a line has none). */
export interface PlotAxis {
  label: string;
  values: (Leaf | undefined)[];
}

/** Where a value sits on an axis, 0 (bottom) to 1 (top), and the ticks to label it with. */
interface Scale {
  at(value: Leaf | undefined): number | undefined;
  ticks: { at: number; text: string }[];
}

function scaleOf(axis: PlotAxis): Scale {
  const present = axis.values.filter((v): v is Leaf => v !== undefined);
  if (present.length > 0 && present.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    const numbers = present as number[];
    const [lo, hi] = [Math.min(...numbers), Math.max(...numbers)];
    const at = (v: number) => (hi === lo ? 0.5 : (v - lo) / (hi - lo));
    // Few distinct values (the usual sweep: 2 to 6 settings) are each a tick; more get the ends and the middle.
    const distinct = [...new Set(numbers)].sort((a, b) => a - b);
    const marks = distinct.length <= 6 ? distinct : [lo, (lo + hi) / 2, hi];
    const ticks = marks.map((v) => ({ at: at(v), text: number(v) }));
    return { at: (v) => (typeof v === 'number' ? at(v) : undefined), ticks };
  }
  // Anything else is a category: its values in sorted order, evenly spaced.
  const names = [...new Set(present.map((v) => leaf(v)))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const at = (i: number) => (names.length === 1 ? 0.5 : i / (names.length - 1));
  return {
    at: (v) => (v === undefined ? undefined : at(names.indexOf(leaf(v)))),
    ticks: names.map((text, i) => ({ at: at(i), text })),
  };
}

/** A line's colour by its value on the last axis (the metric): low orange, high blue (Okabe–Ito ends). */
function colourAt(t: number | undefined): string {
  if (t === undefined) return '#9ca3af';
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${mix(230, 0)},${mix(159, 114)},${mix(0, 178)})`;
}

const HEIGHT = 240;
const TOP = 28;
const BOTTOM = 36;
const SIDE = 70;

/**
 * Parallel coordinates: an axis per entry of `axes`, a line per item through its values. `names` name the lines
 * (their <title>), `ids` go on them as data-run. The last axis colours the lines.
 */
export function parallelCoordinates(axes: PlotAxis[], names: string[], ids: string[]): SVGSVGElement {
  const gap = Math.max(140, Math.min(220, 900 / Math.max(1, axes.length - 1)));
  const width = SIDE * 2 + gap * Math.max(1, axes.length - 1);
  const scales = axes.map(scaleOf);
  const x = (i: number) => SIDE + gap * i;
  const y = (t: number) => TOP + (1 - t) * HEIGHT;
  const root = svg('svg', { width, height: TOP + HEIGHT + BOTTOM, viewBox: `0 0 ${width} ${TOP + HEIGHT + BOTTOM}`, class: 'plot', role: 'img' });
  axes.forEach((axis, i) => {
    const g = svg('g', { class: 'axis', 'data-axis': axis.label });
    g.append(svg('line', { x1: x(i), x2: x(i), y1: y(0), y2: y(1), stroke: '#6b7280' }));
    for (const tick of scales[i].ticks) {
      g.append(svg('line', { x1: x(i) - 4, x2: x(i), y1: y(tick.at), y2: y(tick.at), stroke: '#6b7280' }));
      g.append(svg('text', { x: x(i) - 7, y: y(tick.at) + 4, 'text-anchor': 'end', class: 'tick' }, tick.text));
    }
    g.append(svg('text', { x: x(i), y: TOP + HEIGHT + 22, 'text-anchor': 'middle', class: 'axis-title' }, axis.label));
    root.append(g);
  });
  const lines = svg('g', { class: 'lines' });
  names.forEach((name, k) => {
    const points = axes.flatMap((axis, i) => {
      const t = scales[i].at(axis.values[k]);
      return t === undefined ? [] : [`${x(i)},${y(t)}`];
    });
    const metric = scales[axes.length - 1]?.at(axes[axes.length - 1].values[k]);
    const path = svg('path', { d: points.length ? `M${points.join('L')}` : '', fill: 'none', stroke: colourAt(metric), 'stroke-width': 2.5, 'data-run': ids[k], class: 'line' });
    path.append(svg('title', {}, `${name}: ${axes.map((a) => `${a.label}=${leaf(a.values[k])}`).join(', ')}`));
    lines.append(path);
  });
  root.append(lines);
  return root;
}

/** A scatter of `x` against `y`, a point per item (data-run = its id, <title> = its name and values). */
export function scatterPlot(xAxis: PlotAxis, yAxis: PlotAxis, names: string[], ids: string[]): SVGSVGElement {
  const width = 420;
  const left = 70;
  const right = 20;
  const [sx, sy] = [scaleOf(xAxis), scaleOf(yAxis)];
  const x = (t: number) => left + 10 + t * (width - left - right - 20);
  const y = (t: number) => TOP + 10 + (1 - t) * (HEIGHT - 20);
  const root = svg('svg', { width, height: TOP + HEIGHT + BOTTOM, viewBox: `0 0 ${width} ${TOP + HEIGHT + BOTTOM}`, class: 'plot', role: 'img' });
  root.append(
    svg('line', { x1: left, x2: width - right, y1: TOP + HEIGHT, y2: TOP + HEIGHT, stroke: '#6b7280' }),
    svg('line', { x1: left, x2: left, y1: TOP, y2: TOP + HEIGHT, stroke: '#6b7280' }),
    svg('text', { x: (left + width - right) / 2, y: TOP + HEIGHT + 32, 'text-anchor': 'middle', class: 'axis-title' }, xAxis.label),
    svg('text', { x: left, y: TOP - 10, 'text-anchor': 'middle', class: 'axis-title' }, yAxis.label),
  );
  for (const tick of sx.ticks) root.append(svg('text', { x: x(tick.at), y: TOP + HEIGHT + 16, 'text-anchor': 'middle', class: 'tick' }, tick.text));
  for (const tick of sy.ticks) root.append(svg('text', { x: left - 6, y: y(tick.at) + 4, 'text-anchor': 'end', class: 'tick' }, tick.text));
  const points = svg('g', { class: 'points' });
  names.forEach((name, k) => {
    const [tx, ty] = [sx.at(xAxis.values[k]), sy.at(yAxis.values[k])];
    if (tx === undefined || ty === undefined) return;
    const dot = svg('circle', { cx: x(tx), cy: y(ty), r: 6, fill: colourAt(ty), 'fill-opacity': 0.85, stroke: '#1f2937', 'data-run': ids[k] });
    dot.append(svg('title', {}, `${name}: ${xAxis.label}=${leaf(xAxis.values[k])}, ${yAxis.label}=${leaf(yAxis.values[k])}`));
    points.append(dot);
  });
  root.append(points);
  return root;
}
