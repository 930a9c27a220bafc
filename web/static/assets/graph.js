// The jobs' dependency graph as SVG. layout is pure: columns by depth
// (a job's depth is one more than its deepest parent's, so parents sit
// left of their children), rows ordered by the mean row of each job's
// parents to keep edges short; svg draws it.

import { html, route } from './dom.js';

const CHAR_W = 7.4;   // px per character of the 12px monospace labels
const PAD_X = 14;
const NODE_H = 30;
const ROW_GAP = 14;
const COL_GAP = 70;
const MARGIN = 12;
const MAX_CHARS = 30;

/**
 * layout places nodes ({name}) given edges ({from, to}, parent → child).
 * An edge that skips columns passes through a free slot of each column it
 * crosses (a virtual node), so it never runs behind another job. It
 * returns {nodes: [{name, x, y, w, h, label, depth}], edges: [{from, to,
 * d}] (d: an SVG path), width, height}. Edges naming unknown jobs are
 * dropped; a cycle (which the API refuses) cannot make it loop.
 */
export function layout(nodes, edges) {
  const names = new Set(nodes.map((n) => n.name));
  const parents = new Map([...names].map((n) => [n, []]));
  const es = edges.filter((e) => names.has(e.from) && names.has(e.to) && e.from !== e.to);
  for (const e of es) parents.get(e.to).push(e.from);

  const depth = new Map();
  const visiting = new Set();
  const depthOf = (n) => {
    if (depth.has(n)) return depth.get(n);
    if (visiting.has(n)) return 0;
    visiting.add(n);
    let d = 0;
    for (const p of parents.get(n)) d = Math.max(d, depthOf(p) + 1);
    visiting.delete(n);
    depth.set(n, d);
    return d;
  };
  // Column items: jobs, and virtual slots of edges that skip columns.
  const cols = [];
  const add = (d, item) => (cols[d] = cols[d] || []).push(item);
  const items = new Map();
  for (const n of [...names].sort()) {
    const it = { key: n, name: n, preds: parents.get(n) };
    items.set(n, it);
    add(depthOf(n), it);
  }
  const chains = es.map((e) => {
    const chain = [];
    let prev = e.from;
    for (let d = depth.get(e.from) + 1; d < depth.get(e.to); d++) {
      const key = `\u0000${e.from}\u0000${e.to}\u0000${d}`;
      const it = { key, virtual: true, preds: [prev] };
      items.set(key, it);
      add(d, it);
      chain.push(it);
      prev = key;
    }
    // The child's parent, for ordering, is the last slot of the chain.
    if (chain.length) {
      const ps = items.get(e.to).preds;
      ps[ps.indexOf(e.from)] = prev;
    }
    return { e, chain };
  });

  const row = new Map();
  cols.forEach((col, d) => {
    if (!col) return;
    if (d > 0) {
      const keys = new Map(col.map((it) => [it, it.preds.length ? it.preds.reduce((s, p) => s + (row.get(p) ?? 0), 0) / it.preds.length : Infinity]));
      col.sort((a, b) => keys.get(a) - keys.get(b) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
    col.forEach((it, i) => row.set(it.key, i));
  });

  // Rows: each job as close as it can be to the middle of its parents
  // (then of its children, then of its parents again), never above the
  // one before it in its column.
  const step = NODE_H + ROW_GAP;
  const kids = new Map();
  for (const it of items.values()) for (const p of it.preds) (kids.get(p) || kids.set(p, []).get(p)).push(it.key);
  const y = new Map();
  const place = (col, want) => {
    let last = -Infinity;
    for (const it of col) {
      const w = want(it);
      const v = Math.max(last + step, w ?? last + step, 0);
      y.set(it.key, v);
      last = v;
    }
  };
  const mean = (keys) => (keys && keys.length ? keys.reduce((s, k) => s + (y.get(k) ?? 0), 0) / keys.length : null);
  const live = cols.filter(Boolean);
  place(live[0] || [], () => null);
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const col of live.slice(1)) place(col, (it) => mean(it.preds));
    if (sweep === 0) for (const col of live.slice(0, -1).reverse()) place(col, (it) => mean(kids.get(it.key)));
  }
  const top = Math.min(...y.values());
  for (const [k, v] of y) y.set(k, v - top);

  let x = MARGIN, height = 0;
  for (const col of live) {
    const real = col.filter((it) => !it.virtual);
    for (const it of real) it.label = it.name.length > MAX_CHARS ? it.name.slice(0, MAX_CHARS - 1) + '…' : it.name;
    const w = real.length ? Math.ceil(Math.max(...real.map((it) => it.label.length)) * CHAR_W + 2 * PAD_X) : 40;
    for (const it of col) {
      Object.assign(it, { x, y: MARGIN + y.get(it.key), w, h: NODE_H });
      height = Math.max(height, it.y + NODE_H + MARGIN);
    }
    x += w + COL_GAP;
  }
  const curve = (x1, y1, x2, y2) => {
    const dx = Math.max((x2 - x1) / 2, 20);
    return `C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
  };
  const placed = chains.map(({ e, chain }) => {
    const a = items.get(e.from), b = items.get(e.to);
    let px = a.x + a.w, py = a.y + a.h / 2;
    let d = `M${px},${py}`;
    for (const v of chain) {
      const vy = v.y + v.h / 2;
      d += ` ${curve(px, py, v.x, vy)} L${v.x + v.w},${vy}`;
      px = v.x + v.w;
      py = vy;
    }
    d += ` ${curve(px, py, b.x - 2, b.y + b.h / 2)}`;
    return { from: e.from, to: e.to, d };
  });
  const out = [...items.values()].filter((it) => !it.virtual)
    .map((it) => ({ name: it.name, label: it.label, x: it.x, y: it.y, w: it.w, h: it.h, depth: depth.get(it.name) }));
  return { nodes: out, edges: placed, width: Math.max(x - COL_GAP + MARGIN, 0), height };
}

/**
 * svg renders /v1/graph's JSON ({nodes: [{name, lastState, status}],
 * edges: [{from, to}]}) as an <svg id="job-graph">: each job a link to its
 * page (g[data-job-name]), each dependency a path[data-from][data-to].
 * The jobs named in context are drawn faint: they are there for their
 * edges to the others.
 */
export function svg(graph, { context = [] } = {}) {
  const nodes = graph.nodes || [];
  const info = new Map(nodes.map((n) => [n.name, n]));
  const faint = new Set(context);
  const L = layout(nodes, graph.edges || []);
  if (!L.nodes.length) return html`<p class="muted" id="job-graph-empty">No jobs yet.</p>`;
  return html`<svg id="job-graph" class="graph" xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" role="img" aria-label="Job dependency graph">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrow"/></marker></defs>
    ${L.edges.map((e) => html`<path class="edge" data-from="${e.from}" data-to="${e.to}" marker-end="url(#arrow)" d="${e.d}"><title>${e.from} → ${e.to}</title></path>`)}
    ${L.nodes.map((n) => {
      const j = info.get(n.name) || {};
      return html`<a href="${route('jobs', n.name)}" class="node ${j.lastState || 'fresh'} ${j.status || 'idle'}${faint.has(n.name) ? ' context' : ''}" data-job-name="${n.name}">
        <title>${n.name}: last ${j.lastState || 'fresh'}, ${j.status || 'idle'}</title>
        <rect x="${n.x}" y="${n.y}" width="${n.w}" height="${n.h}" rx="6"/>
        <circle cx="${n.x + 10}" cy="${n.y + n.h / 2}" r="4" class="dot"/>
        <text x="${n.x + PAD_X + 4}" y="${n.y + n.h / 2 + 4}">${n.label}</text></a>`;
    })}
  </svg>`;
}
