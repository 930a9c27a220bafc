// The cluster page: the master's /state (through console/state, which a
// standby master proxies to the leader), re-read whenever console/events
// says it changed.

import { reader, refresher, stream, SERVICES } from '../api.js';
import { html, render, bar, badge, num, mb, pct, ago, duration, portCount, logsRoute, emptyRow } from '../dom.js';
import { errorText } from '../ui.js';
import { pager } from '../pager.js';

export function mount(root, params, ctx) {
  render(root, html`
    <section class="page" id="cluster-page">
      <header class="page-head">
        <h1>Cluster</h1>
        <div class="head-meta" id="cluster-meta"></div>
      </header>
      <div id="cluster-banner" class="banner error" hidden></div>
      <div class="cards" id="cluster-cards"></div>
      <h2>Agents</h2>
      <div class="table-wrap"><table class="grid" id="agents">
        <thead><tr><th>Agent</th><th>State</th><th>CPUs</th><th>Memory</th><th>Disk</th><th>Ports</th><th class="num">Tasks</th><th>Attributes</th></tr></thead>
        <tbody></tbody></table></div>
      <div id="quotas-section" hidden>
        <h2>Quotas</h2>
        <div class="table-wrap"><table class="grid" id="quotas">
          <thead><tr><th>Role</th><th>Guarantees</th><th>Limits</th></tr></thead>
          <tbody></tbody></table></div>
      </div>
      <h2>Frameworks</h2>
      <div class="table-wrap"><table class="grid" id="frameworks">
        <thead><tr><th>Framework</th><th>State</th><th>Roles</th><th>CPUs</th><th>Memory</th><th>Dominant share</th><th class="num">Tasks</th><th class="num">Offers</th><th>Registered</th></tr></thead>
        <tbody></tbody></table></div>
      <div class="section-head">
        <h2>Tasks</h2>
        <input type="search" id="task-filter" placeholder="Filter by id, name, state, host…" aria-label="Filter tasks">
      </div>
      <div class="table-wrap"><table class="grid" id="tasks">
        <thead><tr><th>Task</th><th>Framework</th><th>Agent</th><th>State</th><th>Health</th><th>CPUs</th><th>Memory</th><th>Since</th><th></th></tr></thead>
        <tbody></tbody></table></div>
      <div id="tasks-pager" hidden></div>
      <h2>Outstanding offers</h2>
      <div class="table-wrap"><table class="grid" id="offers">
        <thead><tr><th>Offer</th><th>Framework</th><th>Agent</th><th>Role</th><th>Resources</th><th>Age</th></tr></thead>
        <tbody></tbody></table></div>
      <h2>Recently finished tasks</h2>
      <div class="table-wrap"><table class="grid" id="completed">
        <thead><tr><th>Task</th><th>Framework</th><th>Agent</th><th>State</th><th>Message</th><th>When</th><th></th></tr></thead>
        <tbody></tbody></table></div>
    </section>`);

  let state = null;
  const filter = root.querySelector('#task-filter');
  const pg = pager(root.querySelector('#tasks-pager'), 'tasks', () => renderTasks(root, state, filter.value, pg));
  filter.addEventListener('input', () => {
    pg.reset();
    if (state) renderTasks(root, state, filter.value, pg);
  });

  const read = reader('console/state');
  // The services framework runs HTTP and TCP health checks itself, so the
  // master never hears their results: they come from its task list.
  const readHealth = reader(SERVICES + '/v2/tasks');
  root._health = new Map();
  let stale = true; // the clock moved: draw even if nothing changed
  const refresh = refresher(async () => {
    let got;
    try {
      got = await read();
      root.querySelector('#cluster-banner').hidden = true;
    } catch (e) {
      const b = root.querySelector('#cluster-banner');
      b.hidden = false;
      b.textContent = 'Cannot read the cluster state: ' + errorText(e);
      return;
    }
    let healthChanged = false;
    if (servicesTasks(got.data[0])) {
      try {
        const h = await readHealth();
        healthChanged = h.changed[0];
        if (healthChanged) root._health = healthByTask(h.data[0]);
      } catch {
        healthChanged = root._health.size > 0;
        root._health = new Map();
      }
    }
    if (!stale && !got.changed[0] && !healthChanged) return;
    stale = false;
    state = got.data[0] || {};
    draw(root, state, filter.value, pg);
  });
  refresh(true);
  const stop = stream('console/events', ['state_changed'], () => refresh(), (s) => ctx.setLive(s, 'the master'));
  // Ages and offer timers move even when nothing changes.
  const tick = setInterval(() => { stale = true; refresh(); }, 15000);
  return () => { stop(); refresh.stop(); clearInterval(tick); };
}

/** servicesTasks reports whether a connected services framework has tasks. */
function servicesTasks(st) {
  return ((st && st.frameworks) || []).some((f) => f.name === 'services' && f.connected && (f.tasks || []).length > 0);
}

/**
 * healthByTask maps the services framework's task ids to their health:
 * true when every health check result is alive; tasks without results
 * are left out.
 */
function healthByTask(body) {
  const out = new Map();
  for (const t of (body && body.tasks) || []) {
    const rs = t.healthCheckResults || [];
    if (rs.length) out.set(t.id, rs.every((r) => r.alive));
  }
  return out;
}

/** totals sums the resources of the agents that are registered. */
function totals(agents) {
  const t = { cpus: 0, mem: 0, disk: 0, ports: 0, ucpus: 0, umem: 0, udisk: 0, uports: 0 };
  for (const a of agents) {
    if (a.state !== 'registered') continue;
    const r = a.resources || {}, u = a.used_resources || {};
    t.cpus += r.cpus || 0; t.mem += r.mem || 0; t.disk += r.disk || 0; t.ports += portCount(r.ports);
    t.ucpus += u.cpus || 0; t.umem += u.mem || 0; t.udisk += u.disk || 0; t.uports += portCount(u.ports);
  }
  return t;
}

function draw(root, st, q, pg) {
  const agents = st.slaves || [];
  const fws = st.frameworks || [];
  const t = totals(agents);
  const li = st.leader_info || {};
  const running = fws.reduce((n, f) => n + (f.tasks || []).filter((x) => x.state === 'TASK_RUNNING').length, 0);
  render(root.querySelector('#cluster-meta'), html`
    <span>leader <code>${li.hostname || ''}${li.port ? ':' + li.port : ''}</code></span>
    <span>version ${st.version || ''}</span>
    <span>elected ${ago(st.elected_time)}</span>`);
  const leader = document.getElementById('leader');
  if (leader) leader.textContent = li.hostname ? `${li.hostname}${li.port ? ':' + li.port : ''}` : '';

  render(root.querySelector('#cluster-cards'), html`
    <div class="card"><div class="card-k">Agents</div><div class="card-v" id="agents-count">${st.activated_slaves || 0}<small> / ${agents.length}</small></div>
      <div class="card-s">${st.unreachable_slaves ? html`<span class="text-bad">${st.unreachable_slaves} unreachable</span>` : 'all reachable'}</div></div>
    <div class="card"><div class="card-k">Frameworks</div><div class="card-v">${fws.filter((f) => f.active).length}<small> / ${fws.length}</small></div>
      <div class="card-s">${fws.map((f) => f.name).join(', ') || 'none registered'}</div></div>
    <div class="card"><div class="card-k">Tasks running</div><div class="card-v">${running}</div>
      <div class="card-s">${st.outstanding_offers || 0} offers outstanding</div></div>
    <div class="card wide"><div class="card-k">Allocated</div>
      <div class="card-bars">
        <span>CPUs</span>${bar(t.ucpus, t.cpus, `${num(t.ucpus)} / ${num(t.cpus)}`)}
        <span>Memory</span>${bar(t.umem, t.mem, `${mb(t.umem)} / ${mb(t.mem)}`)}
        <span>Disk</span>${bar(t.udisk, t.disk, `${mb(t.udisk)} / ${mb(t.disk)}`)}
      </div></div>`);

  const agentByID = new Map(agents.map((a) => [a.id, a]));
  render(root.querySelector('#agents tbody'), agents.length ? agents.map((a) => {
    const r = a.resources || {}, u = a.used_resources || {};
    const attrs = Object.entries(a.attributes || {});
    return html`<tr data-agent-id="${a.id}">
      <td><div>${a.hostname}</div><div class="id">${a.id}</div></td>
      <td>${badge(a.state)}${a.connected ? '' : html` <span class="muted">disconnected</span>`}
        ${a.drain_info ? html` <span class="badge warn" title="drained by an operator: it takes no new tasks${a.drain_info.config && a.drain_info.config.mark_gone ? ', and is removed once drained' : ''}">${a.drain_info.state.toLowerCase()}</span>`
          : a.deactivated ? html` <span class="badge warn" title="deactivated by an operator: it takes no new tasks">deactivated</span>` : ''}
        ${a.maintenance ? html` <span class="badge warn" title="scheduled for maintenance from ${new Date(a.maintenance.start * 1000).toISOString()}${a.maintenance.end ? ` until ${new Date(a.maintenance.end * 1000).toISOString()}` : ', for good'}: frameworks move their work off it and start nothing new there">maintenance</span>` : ''}
        ${(a.containerizers || []).includes('docker') ? html` <span class="chip" title="runs DOCKER containers">docker</span>` : ''}
        <div class="muted small" title="${a.cgroups_reason || ''}">${a.cgroups === 'none' || !a.cgroups ? 'no cgroup limits' : `cgroups ${a.cgroups}`}</div></td>
      <td class="nowrap">${bar(u.cpus || 0, r.cpus || 0, `${num(u.cpus || 0)} / ${num(r.cpus || 0)}`)}</td>
      <td>${bar(u.mem || 0, r.mem || 0, `${mb(u.mem || 0)} / ${mb(r.mem || 0)}`)}</td>
      <td>${bar(u.disk || 0, r.disk || 0, `${mb(u.disk || 0)} / ${mb(r.disk || 0)}`)}</td>
      <td>${bar(portCount(u.ports), portCount(r.ports), `${portCount(u.ports)} / ${portCount(r.ports)}`)}</td>
      <td class="num">${a.task_count || 0}</td>
      <td>${attrs.length ? attrs.map(([k, v]) => html`<span class="chip">${k}:${Array.isArray(v) ? v.join(',') : v}</span>`) : html`<span class="muted">none</span>`}</td>
    </tr>`;
  }) : emptyRow(8, 'No agents have registered.'));

  // Quotas (UPDATE_QUOTA on the operator API), when any role has one.
  const quotas = (st && st.quotas) || [];
  root.querySelector('#quotas-section').hidden = quotas.length === 0;
  const amounts = (m) => {
    const e = Object.entries(m || {});
    return e.length ? e.sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => html`<span class="chip">${k} ${num(v.value)}</span>`) : html`<span class="muted">none</span>`;
  };
  render(root.querySelector('#quotas tbody'), quotas.map((q) => html`<tr data-role="${q.role}">
      <td>${q.role}</td><td>${amounts(q.guarantees)}</td><td>${amounts(q.limits)}</td></tr>`));

  render(root.querySelector('#frameworks tbody'), fws.length ? fws.map((f) => {
    const u = f.used_resources || {};
    const share = Math.max(t.cpus ? (u.cpus || 0) / t.cpus : 0, t.mem ? (u.mem || 0) / t.mem : 0, t.disk ? (u.disk || 0) / t.disk : 0);
    const page = f.name === 'services' ? '#/services' : f.name === 'jobs' ? '#/jobs' : '';
    return html`<tr data-framework-id="${f.id}" data-framework-name="${f.name}">
      <td><div>${page ? html`<a href="${page}">${f.name}</a>` : f.name}</div><div class="id">${f.id}</div></td>
      <td>${badge(f.state)}</td>
      <td>${(f.roles || []).map((r) => html`<span class="chip">${r}</span>`)}${(f.suppressed_roles || []).length ? html` <span class="muted">suppressed: ${f.suppressed_roles.join(', ')}</span>` : ''}</td>
      <td>${num(u.cpus || 0)}</td>
      <td>${mb(u.mem || 0)}</td>
      <td>${bar(share, 1, pct(share))}</td>
      <td class="num">${(f.tasks || []).length}</td>
      <td class="num">${(f.offers || []).length}</td>
      <td>${ago(f.registered_time)}</td>
    </tr>`;
  }) : emptyRow(9, 'No frameworks are registered.'));

  root._agentByID = agentByID;
  renderTasks(root, st, q, pg);

  const fwName = new Map(fws.map((f) => [f.id, f.name]));
  const offers = fws.flatMap((f) => f.offers || []);
  render(root.querySelector('#offers tbody'), offers.length ? offers.map((o) => {
    const a = agentByID.get(o.slave_id);
    return html`<tr data-offer-id="${o.id}">
      <td class="id">${o.id}</td><td>${fwName.get(o.framework_id) || o.framework_id}</td><td>${a ? a.hostname : o.slave_id}</td>
      <td>${o.role}</td><td>${resources(o.resources)}</td><td>${duration(o.age_seconds)}</td></tr>`;
  }) : emptyRow(6, 'No offers are outstanding.'));

  const done = fws.flatMap((f) => (f.completed_tasks || []).map((x) => ({ ...x, fw: f.name })));
  done.sort((a, b) => lastTime(b) - lastTime(a));
  render(root.querySelector('#completed tbody'), done.length ? done.slice(0, 50).map((x) => {
    const a = agentByID.get(x.slave_id);
    return html`<tr data-task-id="${x.id}">
      <td class="id">${x.id}</td><td>${x.fw}</td><td>${a ? a.hostname : x.slave_id}</td><td>${badge(x.state)}</td>
      <td class="msg">${x.message || x.reason || ''}</td><td>${ago(lastTime(x))}</td>
      <td><a href="${logsRoute(x.slave_id, x.id, x.sandbox)}" data-logs="${x.id}">logs</a></td></tr>`;
  }) : emptyRow(7, 'No tasks have finished yet.'));
}

function lastTime(t) {
  const s = t.statuses || [];
  return s.length ? s[s.length - 1].timestamp || 0 : 0;
}

function resources(r) {
  if (!r) return '';
  const parts = [];
  if (r.cpus) parts.push(`cpus ${num(r.cpus)}`);
  if (r.mem) parts.push(`mem ${mb(r.mem)}`);
  if (r.disk) parts.push(`disk ${mb(r.disk)}`);
  if (r.ports) parts.push(`ports ${r.ports}`);
  return parts.join(', ');
}

function renderTasks(root, st, q, pg) {
  const agentByID = root._agentByID || new Map();
  const needle = (q || '').trim().toLowerCase();
  const matching = [];
  let total = 0;
  for (const f of st.frameworks || []) {
    for (const x of [...(f.tasks || []), ...(f.unreachable_tasks || [])]) {
      total++;
      const a = agentByID.get(x.slave_id);
      const host = a ? a.hostname : '';
      if (needle && !`${x.id} ${x.name} ${x.state} ${host} ${f.name}`.toLowerCase().includes(needle)) continue;
      matching.push({ x, f, host });
    }
  }
  const rows = pg.take(matching, total);
  render(root.querySelector('#tasks tbody'), rows.length ? rows.map(({ x, f, host }) => {
    const r = x.resources || {};
    let healthy = x.healthy;
    if ((healthy === undefined || healthy === null) && f.name === 'services') healthy = (root._health || new Map()).get(x.id);
    const health = healthy === undefined || healthy === null ? html`<span class="muted">–</span>` : badge(healthy ? 'healthy' : 'unhealthy');
    return html`<tr data-task-id="${x.id}">
      <td><div class="id">${x.id}</div>${x.name && x.name !== x.id ? html`<div class="muted">${x.name}</div>` : ''}</td>
      <td>${f.name}</td><td>${host || html`<span class="id">${x.slave_id}</span>`}</td>
      <td>${badge(x.state)}</td><td>${health}</td><td>${num(r.cpus || 0)}</td><td>${mb(r.mem || 0)}</td>
      <td>${ago(lastTime(x))}</td>
      <td><a href="${logsRoute(x.slave_id, x.id, x.sandbox)}" data-logs="${x.id}">logs</a></td></tr>`;
  }) : emptyRow(9, total ? 'No task matches the filter.' : 'No tasks are running.'));
}
