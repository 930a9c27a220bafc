// Talking to the master. Every URL is relative to the console's document,
// so the console works wherever the master is mounted. The frameworks'
// APIs and the agents' files are reached through the master's proxies.

/** SERVICES and JOBS are the bases of the frameworks' APIs. */
export const SERVICES = 'framework/services';
export const JOBS = 'framework/jobs';

/** APIError is a failed request: status 0 when the master did not answer. */
export class APIError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
    this.details = body && Array.isArray(body.details) ? body.details : [];
  }
}

/**
 * send sends a request and returns the answer's text. A non-2xx answer
 * throws an APIError with the API's message.
 */
async function send(method, path, body, { signal } = {}) {
  const init = { method, headers: { Accept: 'application/json' }, signal, cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new APIError(0, 'The master did not answer: ' + e.message, null);
  }
  const text = await resp.text();
  if (!resp.ok) {
    const data = decode(text);
    const msg = data && typeof data.message === 'string' ? data.message : text.trim() || `${resp.status} ${resp.statusText}`;
    throw new APIError(resp.status, msg, data);
  }
  return text;
}

/** decode parses a JSON answer: null when empty or not JSON. */
function decode(text) {
  if (!text) return null;
  try { return JSON.parse(text); } catch { return null; }
}

/**
 * request sends a JSON request and returns the decoded answer (null when
 * empty). A non-2xx answer throws an APIError with the API's message.
 */
export async function request(method, path, body, opts) {
  return decode(await send(method, path, body, opts));
}

export const get = (path, opts) => request('GET', path, undefined, opts);

/**
 * reader returns read(), which GETs every path at once and resolves to
 * {data, changed}: data[i] is the decoded answer of paths[i], and
 * changed[i] whether its text differs from the previous read's. An
 * unchanged answer is not decoded again (data[i] is the same object), so
 * a page that re-reads on every live event draws only when something
 * moved. A failed read throws, and the next read counts every answer as
 * changed.
 */
export function reader(...paths) {
  let texts = [], data = [];
  return async function read() {
    let got;
    try {
      got = await Promise.all(paths.map((p) => send('GET', p)));
    } catch (e) {
      texts = [];
      throw e;
    }
    const changed = got.map((t, i) => t !== texts[i]);
    data = got.map((t, i) => (changed[i] ? decode(t) : data[i]));
    texts = got;
    return { data, changed };
  };
}

/**
 * readFile reads up to length bytes at offset of a file on an agent
 * ({data, offset}); offset -1 only asks for the file's size (in offset).
 */
export async function readFile(agentId, path, offset, length) {
  const q = new URLSearchParams({ path, offset: String(offset) });
  if (length !== undefined) q.set('length', String(length));
  return get(`agent/${encodeURIComponent(agentId)}/files/read?${q}`);
}

/** browse lists a sandbox directory on an agent. */
export function browse(agentId, path) {
  return get(`agent/${encodeURIComponent(agentId)}/files/browse?${new URLSearchParams({ path })}`);
}

/** downloadURL is the link that downloads a sandbox file. */
export function downloadURL(agentId, path) {
  return `agent/${encodeURIComponent(agentId)}/files/download?${new URLSearchParams({ path })}`;
}

/**
 * refresher runs fn at most once at a time: a call while it runs queues
 * one more run, and calls within `wait` ms coalesce, so a burst of live
 * events costs one re-read, however long the burst (a run at most every
 * `wait` ms plus its own time). schedule(true) runs at once;
 * schedule.stop() ends it.
 */
export function refresher(fn, wait = 400) {
  let timer = null, running = false, again = false, stopped = false;
  async function run() {
    timer = null;
    if (stopped) return;
    if (running) { again = true; return; }
    running = true;
    try {
      await fn();
    } catch (e) {
      if (e.name !== 'AbortError') console.error(e);
    } finally {
      running = false;
      if (again && !stopped) { again = false; schedule(); }
    }
  }
  function schedule(now) {
    if (stopped) return;
    if (running) { again = true; return; }
    if (now) { clearTimeout(timer); timer = null; run(); return; }
    if (!timer) timer = setTimeout(run, wait);
  }
  schedule.stop = () => { stopped = true; clearTimeout(timer); };
  return schedule;
}

/**
 * stream follows a Server-Sent Events endpoint: onEvent(type, data, id)
 * for each event of the given types, onState('open'|'connecting'|'down') as the
 * connection changes. Each (re)connection also calls onEvent('attached'),
 * so the page re-reads what it may have missed. When the server refuses
 * the stream (say, a framework that is not registered), it tries again
 * every few seconds. It returns a function that stops it.
 */
export function stream(path, types, onEvent, onState) {
  let es = null, retry = null, stopped = false;
  function connect() {
    retry = null;
    if (stopped) return;
    onState('connecting');
    es = new EventSource(path);
    es.addEventListener('event_stream_attached', () => { onState('open'); onEvent('attached', null); });
    es.onerror = () => {
      if (stopped) return;
      if (es.readyState === EventSource.CLOSED) {
        onState('down');
        retry = setTimeout(connect, 3000);
      } else {
        onState('connecting');
      }
    };
    for (const t of types) {
      es.addEventListener(t, (ev) => {
        let data = null;
        try { data = JSON.parse(ev.data); } catch { /* not JSON: pass null */ }
        onEvent(t, data, ev.lastEventId);
      });
    }
  }
  connect();
  return () => {
    stopped = true;
    clearTimeout(retry);
    if (es) es.close();
  };
}
