// The console's router: the hash names the page; each page module exports
// mount(root, params, ctx) and returns a function that unmounts it (closes
// its event stream, stops its timers).

import * as cluster from './pages/cluster.js';
import * as services from './pages/services.js';
import * as jobs from './pages/jobs.js';
import * as logs from './pages/logs.js';

const dec = (s) => {
  try { return decodeURIComponent(s); } catch { return s; }
};

// Each route: a pattern on the hash path and the page it mounts.
const routes = [
  [/^\/?$/, () => ({ page: cluster, nav: 'cluster' })],
  [/^\/cluster$/, () => ({ page: cluster, nav: 'cluster' })],
  [/^\/services$/, () => ({ page: services, nav: 'services' })],
  [/^\/services\/app\/(.+)$/, (m) => ({ page: services, nav: 'services', params: { app: '/' + m[1].split('/').map(dec).join('/') } })],
  [/^\/jobs$/, () => ({ page: jobs, nav: 'jobs' })],
  [/^\/jobs\/([^/]+)$/, (m) => ({ page: jobs, nav: 'jobs', params: { job: dec(m[1]) } })],
  [/^\/logs\/([^/]+)\/([^/]+)$/, (m) => ({ page: logs, nav: 'cluster', params: { agent: dec(m[1]), task: dec(m[2]) } })],
];

function resolve(hash) {
  const h = hash.replace(/^#/, '');
  const [path, query] = h.split('?', 2);
  for (const [re, make] of routes) {
    const m = re.exec(path);
    if (m) {
      const r = make(m);
      r.params = { ...(r.params || {}), query: new URLSearchParams(query || '') };
      return r;
    }
  }
  return null;
}

const live = document.getElementById('live');

/** ctx is what pages get from the shell. */
const ctx = {
  setLive(state, what) {
    live.dataset.state = state;
    live.title = {
      open: `Live: following ${what}`,
      connecting: `Connecting to ${what}…`,
      down: `Not receiving live updates from ${what}; retrying`,
    }[state] || '';
    live.querySelector('.live-text').textContent = { open: 'live', connecting: 'connecting', down: 'offline' }[state] || '';
  },
};

let unmount = null;
let seq = 0;

function navigate() {
  const main = document.getElementById('main');
  if (unmount) {
    try { unmount(); } catch (e) { console.error(e); }
    unmount = null;
  }
  const r = resolve(location.hash);
  const mine = ++seq;
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', !!r && a.dataset.nav === r.nav);
  }
  main.textContent = '';
  main.scrollTop = 0;
  window.scrollTo(0, 0);
  if (!r) {
    main.innerHTML = '<section class="page"><h1>Not found</h1><p>No console page here. <a href="#/cluster">Go to the cluster</a>.</p></section>';
    return;
  }
  document.body.dataset.page = r.nav;
  const u = r.page.mount(main, r.params, ctx);
  if (mine === seq) unmount = u;
}

window.addEventListener('hashchange', navigate);
navigate();
