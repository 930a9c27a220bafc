// Markup helpers. Every page builds its tables as one string with html``,
// which escapes each interpolated value unless it is itself html``, and
// assigns it with one innerHTML: user data never becomes markup.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** esc returns s as text safe inside elements and quoted attributes. */
export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]);
}

/** Markup is a string that is already safe markup. */
export class Markup {
  constructor(s) { this.s = s; }
  toString() { return this.s; }
}

function part(v) {
  if (v instanceof Markup) return v.s;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === null || v === undefined || v === false) return '';
  return esc(v);
}

/** html is a template tag: html`<td>${x}</td>` escapes x. */
export function html(strings, ...values) {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += part(values[i]) + strings[i + 1];
  return new Markup(out);
}

/** render replaces el's content with markup m. */
export function render(el, m) {
  if (el) el.innerHTML = part(m);
}

// --- numbers, sizes and times ---------------------------------------------

export function num(n, digits = 2) {
  if (typeof n !== 'number' || !isFinite(n)) return '0';
  return Number.isInteger(n) ? String(n) : n.toFixed(digits).replace(/\.?0+$/, '');
}

const counts = new Intl.NumberFormat('en-US');

/** count formats a whole number with thousands separators: "1,000". */
export function count(n) {
  return counts.format(n);
}

/** mb formats a size given in MB. */
export function mb(n) {
  if (typeof n !== 'number' || !isFinite(n)) return '0 MB';
  if (Math.abs(n) >= 1024 * 1024) return num(n / 1024 / 1024, 1) + ' TB';
  if (Math.abs(n) >= 1024) return num(n / 1024, 1) + ' GB';
  return num(n, 0) + ' MB';
}

export function pct(x) {
  if (!isFinite(x)) return '0%';
  return (x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0) + '%';
}

/** duration formats seconds as "3d 4h", "5m 2s", "800ms". */
export function duration(s) {
  if (typeof s !== 'number' || !isFinite(s)) return '';
  if (s < 0) s = 0;
  if (s < 1) return Math.round(s * 1000) + 'ms';
  if (s < 60) return Math.round(s) + 's';
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  return `${m}m ${Math.round(s % 60)}s`;
}

/** ago formats a Date, ISO string or Unix seconds relative to now. */
export function ago(t) {
  const ms = toMillis(t);
  if (ms === null) return '';
  const s = (Date.now() - ms) / 1000;
  return s >= 0 ? duration(s) + ' ago' : 'in ' + duration(-s);
}

export function toMillis(t) {
  if (t === null || t === undefined || t === '' || t === 0) return null;
  if (typeof t === 'number') return t * 1000;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return isNaN(ms) ? null : ms;
}

const zoneFormats = new Map();

/** inZone formats t in the IANA time zone tz ("UTC" when empty or unknown). */
export function inZone(t, tz) {
  const ms = toMillis(t);
  if (ms === null) return '';
  let f = zoneFormats.get(tz || 'UTC');
  if (!f) {
    const opts = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short' };
    try {
      f = new Intl.DateTimeFormat('sv-SE', { ...opts, timeZone: tz || 'UTC' });
    } catch {
      f = new Intl.DateTimeFormat('sv-SE', { ...opts, timeZone: 'UTC' });
    }
    zoneFormats.set(tz || 'UTC', f);
  }
  return f.format(new Date(ms));
}

/** local formats t in the browser's zone, to the second. */
export function local(t) {
  const ms = toMillis(t);
  if (ms === null) return '';
  return inZone(ms / 1000, Intl.DateTimeFormat().resolvedOptions().timeZone);
}

// --- widgets -----------------------------------------------------------------

/**
 * bar draws used/total as an SVG bar (attributes only, so the console's
 * content security policy, which forbids inline styles, allows it) with
 * the figures beside it.
 */
export function bar(used, total, label) {
  const frac = total > 0 ? Math.min(Math.max(used / total, 0), 1) : 0;
  const level = frac >= 0.9 ? 'high' : frac >= 0.7 ? 'mid' : 'low';
  const w = (frac * 100).toFixed(1);
  return html`<span class="bar" title="${pct(frac)}"><svg viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true"><rect class="track" width="100" height="8" rx="2"/><rect class="fill ${level}" width="${w}" height="8" rx="2"/></svg><span class="bar-label">${label}</span></span>`;
}

const STATE_CLASS = {
  TASK_RUNNING: 'ok', TASK_FINISHED: 'done', TASK_STAGING: 'pending', TASK_STARTING: 'pending', TASK_KILLING: 'warn',
  TASK_FAILED: 'bad', TASK_KILLED: 'done', TASK_LOST: 'bad', TASK_ERROR: 'bad', TASK_DROPPED: 'bad', TASK_GONE: 'bad',
  TASK_UNREACHABLE: 'warn', TASK_GONE_BY_OPERATOR: 'bad', TASK_UNKNOWN: 'warn',
  registered: 'ok', recovered: 'pending', unreachable: 'bad', gone: 'bad',
  active: 'ok', disconnected: 'warn', removed: 'done',
  SUCCEEDED: 'ok', FAILED: 'bad', RUNNING: 'pending', STARTING: 'pending', QUEUED: 'pending', SKIPPED: 'warn', MISSED: 'warn', KILLED: 'done',
  success: 'ok', failure: 'bad', fresh: 'done',
  Running: 'ok', Deploying: 'pending', Waiting: 'warn', Delayed: 'warn', Suspended: 'done', Unhealthy: 'bad',
  healthy: 'ok', unhealthy: 'bad', unknown: 'done', disabled: 'done', idle: 'done', queued: 'pending', running: 'pending',
};

/** badge is a colored state label. */
export function badge(state, text) {
  return html`<span class="badge ${STATE_CLASS[state] || 'done'}">${text === undefined ? state : text}</span>`;
}

/** portCount counts the ports in a Mesos ranges string "[31000-31099, 32000-32000]". */
export function portCount(s) {
  if (typeof s !== 'string') return 0;
  let n = 0;
  for (const m of s.matchAll(/(\d+)-(\d+)/g)) n += Number(m[2]) - Number(m[1]) + 1;
  return n;
}

/** route builds a console route; each part is URL-encoded. */
export function route(...parts) {
  return '#/' + parts.map((p) => encodeURIComponent(p)).join('/');
}

/** appRoute is the route of an app's page (app ids are paths). */
export function appRoute(id) {
  return '#/services/app/' + String(id).replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
}

/** logsRoute is the route of a task's logs; path is its sandbox, if known. */
export function logsRoute(agentId, taskId, path) {
  return route('logs', agentId, taskId) + (path ? '?path=' + encodeURIComponent(path) : '');
}

/** empty is a table row spanning cols columns that says msg. */
export function emptyRow(cols, msg) {
  return html`<tr class="empty"><td colspan="${cols}">${msg}</td></tr>`;
}
