// The services pages: the apps list (with deployments and the launch
// queue) and one app's page, through the master's proxy to the services
// framework's Marathon-compatible /v2 API; live through its /v2/events.

import { SERVICES, get, request, reader, refresher, stream, APIError } from '../api.js';
import { html, render, badge, num, mb, ago, local, toMillis, appRoute, logsRoute, emptyRow } from '../dom.js';
import { pager } from '../pager.js';
import { toast, errorText, confirmAction, askNumber, jsonEditor, banner, warningToasts } from '../ui.js';

// The /v2/events types that can change what these pages show.
const EVENT_TYPES = [
  'status_update_event', 'instance_changed_event', 'health_status_changed_event', 'failed_health_check_event',
  'unhealthy_instance_kill_event', 'deployment_info', 'deployment_success', 'deployment_failed',
  'deployment_step_success', 'deployment_step_failure', 'api_post_event', 'app_terminated_event',
  'group_change_success', 'framework_message_event', 'subscribe_event', 'scheduler_registered_event',
  'scheduler_reregistered_event', 'scheduler_disconnected_event',
];

const NEW_APP = {
  id: '/hello',
  cmd: 'echo hello > index.html && exec python3 -m http.server $PORT0',
  cpus: 0.1,
  mem: 64,
  instances: 1,
  healthChecks: [{ protocol: 'HTTP', path: '/', portIndex: 0, gracePeriodSeconds: 30, intervalSeconds: 5, timeoutSeconds: 5, maxConsecutiveFailures: 3 }],
};

// Fields of GET /v2/apps/{id} that are state, not definition.
const RESPONSE_ONLY = ['tasks', 'tasksRunning', 'tasksHealthy', 'tasksStaged', 'tasksUnhealthy', 'deployments',
  'lastTaskFailure', 'version', 'versionInfo', 'readinessCheckResults', 'taskStats'];

export function mount(root, params, ctx) {
  return params.app ? mountApp(root, params.app, ctx) : mountList(root, ctx);
}

const api = (path) => SERVICES + path;
const appPath = (id) => api('/v2/apps' + id.split('/').map(encodeURIComponent).join('/'));

// --- the apps list -----------------------------------------------------------

function mountList(root, ctx) {
  render(root, html`
    <section class="page" id="services-page">
      <header class="page-head">
        <h1>Services</h1>
        <div class="head-actions">
          <input type="search" id="app-filter" placeholder="Filter apps…" aria-label="Filter apps">
          <button type="button" class="primary" id="new-app">New app</button>
        </div>
      </header>
      <div id="services-banner" hidden></div>
      <div id="app-create" class="panel" hidden></div>
      <div id="deployments-section" hidden>
        <h2>Deployments in progress</h2>
        <div class="table-wrap"><table class="grid" id="deployments">
          <thead><tr><th>Deployment</th><th>Apps</th><th>Step</th><th>Why it waits</th><th></th></tr></thead>
          <tbody></tbody></table></div>
        <div id="deployments-pager" hidden></div>
      </div>
      <div id="queue-section" hidden>
        <h2>Launch queue</h2>
        <div class="table-wrap"><table class="grid" id="queue">
          <thead><tr><th>App</th><th class="num">To launch</th><th>Delay</th><th>Waiting since</th><th>Why</th><th>Offers declined for</th></tr></thead>
          <tbody></tbody></table></div>
        <div id="queue-pager" hidden></div>
      </div>
      <h2>Apps</h2>
      <div class="table-wrap"><table class="grid" id="apps">
        <thead><tr><th>App</th><th>Status</th><th class="num">Running</th><th class="num">Healthy</th><th class="num">Staged</th><th class="num">Unhealthy</th><th>CPUs</th><th>Memory</th><th>Command</th><th></th></tr></thead>
        <tbody></tbody></table></div>
      <div id="apps-pager" hidden></div>
    </section>`);

  const createBox = root.querySelector('#app-create');
  let editor = null;
  root.querySelector('#new-app').addEventListener('click', () => {
    createBox.hidden = false;
    if (!editor) {
      editor = jsonEditor(createBox, {
        id: 'app-editor', initial: NEW_APP, submitLabel: 'Create app',
        onSubmit: async (def) => {
          const out = await request('POST', api('/v2/apps'), def);
          toast(`Created ${out && out.id ? out.id : 'the app'}; deploying`, 'ok');
          warningToasts(out);
          createBox.hidden = true;
          refresh(true);
        },
        onCancel: () => { createBox.hidden = true; },
      });
    }
    editor.focus();
  });

  let data = null; // {apps, deps, queue, hay}
  const filter = root.querySelector('#app-filter');
  const pages = {
    apps: pager(root.querySelector('#apps-pager'), 'apps', () => drawApps(root, data, filter.value, pages.apps)),
    deps: pager(root.querySelector('#deployments-pager'), 'deployments', () => drawDeployments(root, data, pages)),
    queue: pager(root.querySelector('#queue-pager'), 'apps', () => drawDeployments(root, data, pages)),
  };
  filter.addEventListener('input', () => {
    pages.apps.reset();
    if (data) drawApps(root, data, filter.value, pages.apps);
  });

  const read = reader(api('/v2/apps'), api('/v2/deployments'), api('/v2/queue'));
  const refresh = refresher(async () => {
    let got;
    try {
      got = await read();
    } catch (e) {
      banner(root.querySelector('#services-banner'), notReachable('services', e));
      return;
    }
    banner(root.querySelector('#services-banner'), '');
    if (data && !got.changed.some(Boolean)) return;
    const [apps, deps, queue] = got.data;
    data = { apps: (apps && apps.apps) || [], deps: deps || [], queue: (queue && queue.queue) || [] };
    data.hay = data.apps.map((a) => `${a.id} ${a.cmd || ''}`.toLowerCase());
    drawApps(root, data, filter.value, pages.apps);
    drawDeployments(root, data, pages);
  });
  refresh(true);
  // Each event, and each (re)connection of the stream, re-reads the apps;
  // a read that finds them as drawn draws nothing.
  const stop = stream(api('/v2/events'), EVENT_TYPES, () => refresh(), (s) => ctx.setLive(s, 'the services framework'));

  // Listeners go on the page's section, which the next page replaces.
  root.querySelector('#services-page').addEventListener('click', (ev) => onAction(ev, refresh));
  return () => { stop(); refresh.stop(); };
}

/** notReachable explains a failed read of a framework's API. */
function notReachable(name, e) {
  if (e instanceof APIError && (e.status === 502 || e.status === 503)) return e.message;
  return `Cannot read the ${name} framework's API: ${errorText(e)}`;
}

function appStatus(a, q) {
  if ((a.deployments || []).length) return 'Deploying';
  if (q && q.delay && !q.delay.overdue) return 'Delayed';
  if (a.instances === 0 && !a.tasksRunning) return 'Suspended';
  if ((a.tasksRunning || 0) < a.instances) return 'Waiting';
  if ((a.healthChecks || []).length && (a.tasksHealthy || 0) < (a.tasksRunning || 0)) return 'Unhealthy';
  return 'Running';
}

function drawApps(root, data, q, pg) {
  const queued = new Map(data.queue.map((x) => [x.app && x.app.id, x]));
  const needle = (q || '').trim().toLowerCase();
  const matching = needle ? data.apps.filter((a, i) => data.hay[i].includes(needle)) : data.apps;
  const apps = pg.take(matching, data.apps.length);
  render(root.querySelector('#apps tbody'), apps.length ? apps.map((a) => {
    const st = appStatus(a, queued.get(a.id));
    return html`<tr data-app-id="${a.id}" data-status="${st}">
      <td><a class="id" href="${appRoute(a.id)}">${a.id}</a></td>
      <td data-field="status">${badge(st)}</td>
      <td class="num" data-field="running">${a.tasksRunning || 0} / ${a.instances}</td>
      <td class="num" data-field="healthy">${(a.healthChecks || []).length ? a.tasksHealthy || 0 : html`<span class="muted" title="no health checks">–</span>`}</td>
      <td class="num" data-field="staged">${a.tasksStaged || 0}</td>
      <td class="num" data-field="unhealthy">${a.tasksUnhealthy || 0}</td>
      <td>${num(a.cpus)}</td><td>${mb(a.mem)}</td>
      <td class="cmd" title="${a.cmd || (a.args || []).join(' ')}">${a.cmd || (a.args || []).join(' ')}</td>
      <td class="actions">
        <button type="button" data-action="scale" data-app-id="${a.id}" data-instances="${a.instances}">Scale</button>
        <button type="button" data-action="restart" data-app-id="${a.id}">Restart</button>
        <button type="button" class="danger" data-action="delete" data-app-id="${a.id}">Delete</button>
      </td></tr>`;
  }) : emptyRow(10, data.apps.length ? 'No app matches the filter.' : 'No apps yet. Create one with “New app”.'));
}

/** waitingCell says why a deployment's apps are not there yet. */
function waitingCell(d) {
  const parts = (d.currentActions || []).filter((c) => c.waiting || (c.unplaced || []).length);
  if (!parts.length) return html`<span class="muted">progressing</span>`;
  return parts.map((c) => html`<div class="why"><code>${c.app}</code> ${c.waiting || ''}
    ${(c.unplaced || []).length ? html`<ul class="reasons">${c.unplaced.map((u) => html`<li><b>${u.hostname || u.agentId}</b>: ${(u.reasons || []).join('; ')}</li>`)}</ul>` : ''}</div>`);
}

function drawDeployments(root, data, pages) {
  root.querySelector('#deployments-section').hidden = data.deps.length === 0;
  render(root.querySelector('#deployments tbody'), pages.deps.take(data.deps).map((d) => html`<tr data-deployment-id="${d.id}">
    <td><div class="id">${d.id}</div><div class="muted">${ago(d.version)}</div></td>
    <td>${(d.currentActions || []).map((c) => html`<div><span class="chip">${c.action}</span> <a class="id" href="${appRoute(c.app)}">${c.app}</a></div>`)}</td>
    <td>${d.currentStep} / ${d.totalSteps}</td>
    <td data-field="waiting">${waitingCell(d)}</td>
    <td class="actions">
      <button type="button" data-action="rollback" data-deployment-id="${d.id}">Roll back</button>
      <button type="button" class="danger" data-action="forget" data-deployment-id="${d.id}">Stop</button>
    </td></tr>`));
  root.querySelector('#queue-section').hidden = data.queue.length === 0;
  render(root.querySelector('#queue tbody'), pages.queue.take(data.queue).map((x) => {
    const id = x.app ? x.app.id : '';
    const delay = x.delay || {};
    return html`<tr data-queue-app="${id}">
      <td><a class="id" href="${appRoute(id)}">${id}</a></td><td class="num">${x.count}</td>
      <td>${delay.overdue ? html`<span class="muted">none</span>` : html`<span class="text-warn">${delay.timeLeftSeconds}s</span>`}</td>
      <td>${ago(x.since)}</td><td class="msg">${x.waiting || ''}</td>
      <td>${((x.processedOffersSummary || {}).rejectSummaryLastOffers || []).map((r) => html`<span class="chip">${r.reason} ${r.declined}/${r.processed}</span>`)}</td></tr>`;
  }));
}

/** onAction handles the buttons of both pages (data-action). */
async function onAction(ev, refresh) {
  const b = ev.target.closest('button[data-action]');
  if (!b || b.disabled) return;
  const id = b.dataset.appId;
  const act = b.dataset.action;
  try {
    switch (act) {
      case 'scale': {
        const n = await askNumber(`Scale ${id} to how many instances?`, b.dataset.instances, { okLabel: 'Scale' });
        if (n === null) return;
        await request('PATCH', appPath(id), { instances: n });
        toast(`Scaling ${id} to ${n}`, 'ok');
        break;
      }
      case 'restart':
        if (!(await confirmAction(`Restart every instance of ${id}? Instances are replaced following its upgrade strategy.`, { okLabel: 'Restart' }))) return;
        await request('POST', appPath(id) + '/restart');
        toast(`Restarting ${id}`, 'ok');
        break;
      case 'delete':
        if (!(await confirmAction(`Delete ${id} and kill all its instances?`, { okLabel: 'Delete', danger: true }))) return;
        await request('DELETE', appPath(id));
        toast(`Deleting ${id}`, 'ok');
        if (location.hash.startsWith('#/services/app/')) location.hash = '#/services';
        break;
      case 'kill': {
        const scale = b.dataset.scale === 'true';
        if (!(await confirmAction(scale ? `Kill ${b.dataset.taskId} and scale ${id} down by one?` : `Kill ${b.dataset.taskId}? It will be replaced.`, { okLabel: 'Kill', danger: true }))) return;
        await request('DELETE', `${appPath(id)}/tasks/${encodeURIComponent(b.dataset.taskId)}${scale ? '?scale=true' : ''}`);
        toast(`Killing ${b.dataset.taskId}`, 'ok');
        break;
      }
      case 'rollback':
        if (!(await confirmAction(`Roll back deployment ${b.dataset.deploymentId}? Its apps return to their previous definitions.`, { okLabel: 'Roll back' }))) return;
        await request('DELETE', api('/v2/deployments/' + encodeURIComponent(b.dataset.deploymentId)));
        toast('Rolling back', 'ok');
        break;
      case 'forget':
        if (!(await confirmAction(`Stop deployment ${b.dataset.deploymentId}? Its apps keep their new definitions.`, { okLabel: 'Stop', danger: true }))) return;
        await request('DELETE', api('/v2/deployments/' + encodeURIComponent(b.dataset.deploymentId) + '?force=true'));
        toast('Deployment stopped', 'ok');
        break;
      default:
        return;
    }
  } catch (e) {
    toast(errorText(e), 'error');
  }
  refresh(true);
}

// --- one app -------------------------------------------------------------------

function mountApp(root, id, ctx) {
  render(root, html`
    <section class="page" id="app-page" data-app-id="${id}">
      <header class="page-head">
        <h1><a href="#/services">Services</a> <span class="sep">/</span> <code>${id}</code> <span id="app-status"></span></h1>
        <div class="head-actions">
          <button type="button" data-action="scale" data-app-id="${id}" id="app-scale">Scale</button>
          <button type="button" data-action="restart" data-app-id="${id}">Restart</button>
          <button type="button" id="app-edit-open">Edit</button>
          <button type="button" class="danger" data-action="delete" data-app-id="${id}">Delete</button>
        </div>
      </header>
      <div id="services-banner" hidden></div>
      <div id="app-deploy"></div>
      <div id="app-failed"></div>
      <div id="app-edit" class="panel" hidden></div>
      <div class="kv" id="app-summary"></div>
      <h2>Instances</h2>
      <div class="table-wrap"><table class="grid" id="instances">
        <thead><tr><th>Instance</th><th>Host</th><th>Ports</th><th>State</th><th>Health</th><th>Started</th><th>Version</th><th></th></tr></thead>
        <tbody></tbody></table></div>
      <div class="columns">
        <div>
          <h2>Versions</h2>
          <ul class="versions" id="versions"></ul>
          <pre class="json" id="version-json" hidden></pre>
        </div>
        <div>
          <h2>Events</h2>
          <ol class="events" id="app-events"><li class="muted">Events for this app appear here as they happen.</li></ol>
        </div>
      </div>
    </section>`);

  let app = null;
  const editBox = root.querySelector('#app-edit');
  let editor = null;
  root.querySelector('#app-edit-open').addEventListener('click', () => {
    if (!app) return;
    editBox.hidden = false;
    const def = definitionOf(app);
    if (!editor) {
      editor = jsonEditor(editBox, {
        id: 'app-edit-editor', initial: def, submitLabel: 'Deploy changes',
        onSubmit: async (body) => {
          const out = await request('PUT', appPath(id), body);
          // An unchanged definition starts no deployment and keeps the version.
          toast(out && app && out.version === app.version ? `${id} unchanged` : `Deploying the new definition of ${id}`, 'ok');
          warningToasts(out);
          editBox.hidden = true;
          refresh(true);
        },
        onCancel: () => { editBox.hidden = true; },
      });
    } else {
      editor.setText(def);
    }
    editor.focus();
  });

  // The versions are read with the app, not after it; the current one is
  // marked once both are here.
  let versions = null;
  const drawVersions = () => {
    if (!versions) return;
    render(root.querySelector('#versions'), versions.length ? versions.map((v) => html`<li>
      <button type="button" class="link" data-version="${v}">${local(v)}</button>
      ${app && app.version === v ? html`<span class="chip">current</span>` : ''}</li>`) : html`<li class="muted">none</li>`);
  };
  const versionsRefresh = refresher(async () => {
    try {
      const vs = await get(appPath(id) + '/versions');
      versions = (vs && vs.versions) || [];
      drawVersions();
    } catch (e) {
      render(root.querySelector('#versions'), html`<li class="muted">${errorText(e)}</li>`);
    }
  });
  root.querySelector('#versions').addEventListener('click', async (ev) => {
    const b = ev.target.closest('[data-version]');
    if (!b) return;
    const pre = root.querySelector('#version-json');
    try {
      const v = await get(`${appPath(id)}/versions/${encodeURIComponent(b.dataset.version)}`);
      pre.hidden = false;
      pre.textContent = JSON.stringify(v, null, 2);
    } catch (e) {
      toast(errorText(e), 'error');
    }
  });

  // The events list: what the stream brings while the page is open, newest
  // first, above what the app's state tells of before (its instances'
  // last status and health, its last failure, its deployments).
  const events = [];
  let earlier = null;
  let drawn = false;
  const drawSoon = () => {
    if (drawn) return;
    drawn = true;
    requestAnimationFrame(() => { drawn = false; drawEvents(root, events, earlier || []); });
  };

  // The deployments with their history: the running ones, and the ended
  // ones, newest first, that say how the app's last deployment ended.
  const read = reader(appPath(id), api('/v2/deployments?history=true'), api('/v2/queue'));
  const refresh = refresher(async () => {
    let got;
    try {
      got = await read();
    } catch (e) {
      if (e instanceof APIError && e.status === 404) {
        banner(root.querySelector('#services-banner'), `App ${id} does not exist (any more).`, 'warn');
        render(root.querySelector('#instances tbody'), emptyRow(8, 'No instances.'));
        return;
      }
      banner(root.querySelector('#services-banner'), notReachable('services', e));
      return;
    }
    banner(root.querySelector('#services-banner'), '');
    if (app && !got.changed.some(Boolean)) return;
    const [one, deps, queue] = got.data;
    const prev = app;
    app = one.app;
    const ours = (deps || []).filter((d) => (d.affectedApps || []).includes(id));
    const mine = ours.filter(running);
    drawApp(root, app, mine, ((queue && queue.queue) || []).find((x) => x.app && x.app.id === id));
    drawFailure(root, lastFailure(ours), ours);
    if (!prev || prev.version !== app.version) drawVersions();
    if (!prev) {
      earlier = history(app, ours);
      drawSoon();
    }
  });
  refresh(true);
  versionsRefresh(true);

  // The stream starts now: replaying the framework's whole event buffer
  // (thousands of events in a big cluster) to find this app's few costs
  // more than the page. The browser's own reconnects resume after the
  // last event seen (Last-Event-ID), and a new connection re-reads the app.
  const stop = stream(api('/v2/events'), EVENT_TYPES, (type, d) => {
    if (type === 'attached' || type.startsWith('scheduler_')) {
      refresh();
      return;
    }
    if (!concerns(d, id)) return;
    events.unshift({ type, d });
    events.length = Math.min(events.length, 100);
    drawSoon();
    if (type.startsWith('deployment') || type === 'api_post_event') versionsRefresh();
    refresh();
  }, (s) => ctx.setLive(s, 'the services framework'));

  root.querySelector('#app-page').addEventListener('click', (ev) => onAction(ev, refresh));
  return () => { stop(); refresh.stop(); versionsRefresh.stop(); };
}

/** running says whether an entry of /v2/deployments?history=true has not ended. */
function running(d) {
  return !d.status || d.status === 'running';
}

/**
 * lastFailure is the app's last deployment, if it failed: the newest
 * ended one that is not an automatic rollback (a failed deployment's
 * rollback does not hide the failure). deps are the app's entries of
 * /v2/deployments?history=true, the ended ones newest first.
 */
function lastFailure(deps) {
  const last = deps.find((d) => !running(d) && !d.rollbackOf);
  return last && last.status === 'failed' ? last : null;
}

/** drawFailure shows the app's failed last deployment, with its reason and its rollback. */
function drawFailure(root, f, deps) {
  const box = root.querySelector('#app-failed');
  if (!f) {
    render(box, '');
    return;
  }
  const rb = f.rollbackDeploymentId ? deps.find((d) => d.id === f.rollbackDeploymentId) : null;
  let after = '';
  if (f.rollbackDeploymentId) {
    const state = !rb || running(rb) ? 'running' : rb.status;
    const dep = html`deployment <span class="id">${f.rollbackDeploymentId}</span>`;
    if (state === 'running') after = html`Rolling back to the previous version: ${dep}`;
    else if (state === 'succeeded') after = html`Rolled back to the previous version by ${dep}`;
    else after = html`The rollback to the previous version, ${dep}, ${state === 'failed' ? 'failed' : 'ended'}${rb.reason ? ': ' + rb.reason : ''}`;
    after = html`<div data-field="rollback" data-state="${state}">${after}</div>`;
  } else if ((f.notes || []).length) {
    after = html`<div data-field="rollback">${f.notes.join('; ')}</div>`;
  }
  render(box, html`<div class="banner error" id="app-deploy-failed" data-deployment-id="${f.id}" data-kind="${(f.failure || {}).kind || ''}">
    <div><b>Deployment</b> <span class="id">${f.id}</span> failed ${ago(f.finishedAt)}:</div>
    <div class="why" data-field="reason">${f.reason || ''}</div>
    ${after}</div>`);
}

/**
 * history is what an app's state tells of its recent events, newest
 * first, as /v2/events payloads: each instance's last status and health
 * change, the last failure, the deployments in progress and those that
 * failed.
 */
function history(a, deps) {
  const out = [];
  for (const t of a.tasks || []) {
    out.push({ type: 'status_update_event', d: { timestamp: t.startedAt || t.stagedAt, taskId: t.id, taskStatus: t.state, message: t.message } });
    for (const h of t.healthCheckResults || []) {
      const failed = toMillis(h.lastFailure), ok = toMillis(h.firstSuccess);
      if (failed !== null) {
        out.push({ type: 'failed_health_check_event', d: { timestamp: h.lastFailure, taskId: t.id, cause: h.lastFailureCause } });
      }
      // Healthy since its first success, unless a check failed after it.
      if (h.alive && ok !== null && (failed === null || failed < ok)) {
        out.push({ type: 'health_status_changed_event', d: { timestamp: h.firstSuccess, taskId: t.id, alive: true } });
      }
    }
  }
  const f = a.lastTaskFailure;
  if (f) out.push({ type: 'status_update_event', d: { timestamp: f.timestamp, taskId: f.taskId, taskStatus: f.state, message: f.message } });
  for (const d of deps) {
    if (running(d)) out.push({ type: 'deployment_info', d: { timestamp: d.version, id: d.id } });
    else if (d.status === 'failed') out.push({ type: 'deployment_failed', d: { timestamp: d.finishedAt, id: d.id, reason: d.reason } });
  }
  return out.sort((x, y) => (toMillis(y.d.timestamp) ?? 0) - (toMillis(x.d.timestamp) ?? 0));
}

/** concerns says whether a /v2/events payload is about app id. */
function concerns(d, id) {
  if (!d) return false;
  if (d.appId === id || d.runSpecId === id) return true;
  if (d.appDefinition && d.appDefinition.id === id) return true;
  const plan = d.plan || {};
  return (plan.affectedApps || []).includes(id);
}

/** definitionOf is an app as GET returns it, minus the state. */
function definitionOf(a) {
  const def = { ...a };
  for (const k of RESPONSE_ONLY) delete def[k];
  // The legacy "ports" duplicates portDefinitions; send one of them.
  if (def.portDefinitions) delete def.ports;
  return def;
}

function drawApp(root, a, deps, q) {
  const st = appStatus(a, q);
  render(root.querySelector('#app-status'), badge(st));
  root.querySelector('#app-page').dataset.status = st;
  root.querySelector('#app-scale').dataset.instances = a.instances;
  const hcs = a.healthChecks || [];
  const lf = a.lastTaskFailure;
  render(root.querySelector('#app-summary'), html`
    <div><span class="k">Command</span><pre class="v cmd-full">${a.cmd || (a.args || []).join(' ') || '(container default)'}</pre></div>
    <div><span class="k">Instances</span><span class="v">${a.tasksRunning || 0} running of ${a.instances}${hcs.length ? `, ${a.tasksHealthy || 0} healthy` : ''}</span></div>
    <div><span class="k">Resources</span><span class="v">cpus ${num(a.cpus)} · mem ${mb(a.mem)} · disk ${mb(a.disk || 0)}</span></div>
    <div><span class="k">Health checks</span><span class="v">${hcs.length ? hcs.map((h) => html`<span class="chip">${h.protocol}${h.path ? ' ' + h.path : ''}${h.command ? ' ' + h.command.value : ''} every ${h.intervalSeconds}s</span>`) : 'none'}</span></div>
    <div><span class="k">Constraints</span><span class="v">${(a.constraints || []).length ? a.constraints.map((c) => html`<span class="chip">${c.join(':')}</span>`) : 'none'}</span></div>
    <div><span class="k">Labels</span><span class="v">${Object.keys(a.labels || {}).length ? Object.entries(a.labels).map(([k, v]) => html`<span class="chip">${k}=${v}</span>`) : 'none'}</span></div>
    <div><span class="k">Version</span><span class="v">${local(a.version)}</span></div>
    ${lf ? html`<div><span class="k">Last failure</span><span class="v text-bad">${lf.state} on ${lf.host} ${ago(lf.timestamp)}: ${lf.message}</span></div>` : ''}`);

  const deploy = root.querySelector('#app-deploy');
  if (deps.length || q) {
    render(deploy, html`<div class="banner warn" id="app-waiting">
      ${deps.map((d) => html`<div><b>Deployment</b> <span class="id">${d.id}</span>, step ${d.currentStep} of ${d.totalSteps}: ${waitingCell(d)}</div>`)}
      ${q && !deps.length ? html`<div><b>Waiting to launch ${q.count}</b>: ${q.waiting || ''}</div>` : ''}</div>`);
  } else {
    render(deploy, '');
  }

  const tasks = a.tasks || [];
  // Readiness checks gate the new version's instances (readinessCheckResults).
  const readiness = new Map((a.readinessCheckResults || []).map((r) => [r.taskId, r]));
  render(root.querySelector('#instances tbody'), tasks.length ? tasks.map((t) => {
    const hr = t.healthCheckResults || [];
    let health;
    if (!hcs.length) health = html`<span class="muted">no checks</span>`;
    else if (!hr.length) health = badge('unknown', 'unknown');
    else if (hr.every((h) => h.alive)) health = badge('healthy');
    else {
      const bad = hr.find((h) => !h.alive);
      health = html`${badge('unhealthy')} <span class="muted">${bad.consecutiveFailures} failures${bad.lastFailureCause ? ': ' + bad.lastFailureCause : ''}</span>`;
    }
    const r = readiness.get(t.id);
    if (r) {
      const last = r.lastResponse ? ` (${r.lastResponse.status})` : '';
      health = html`${health} <span data-field="ready">${r.ready ? badge('healthy', 'ready') : badge('Waiting', 'not ready' + last)}</span>`;
    }
    return html`<tr data-task-id="${t.id}" data-agent-id="${t.slaveId}">
      <td class="id">${t.id}</td><td>${t.host}</td><td>${(t.ports || []).join(', ')}</td>
      <td>${badge(t.state)}${t.message ? html` <span class="muted">${t.message}</span>` : ''}</td>
      <td data-field="health">${health}</td><td>${ago(t.startedAt || t.stagedAt)}</td>
      <td>${t.version === a.version ? html`<span class="chip">current</span>` : html`<span class="muted">${local(t.version)}</span>`}</td>
      <td class="actions"><a href="${logsRoute(t.slaveId, t.id)}" data-logs="${t.id}">logs</a>
        <button type="button" data-action="kill" data-app-id="${a.id}" data-task-id="${t.id}">Kill</button>
        <button type="button" data-action="kill" data-scale="true" data-app-id="${a.id}" data-task-id="${t.id}" title="Kill and scale down by one">Kill &amp; scale</button></td></tr>`;
  }) : emptyRow(8, a.instances ? 'No instances yet.' : 'Scaled to 0 instances.'));
}

function eventSummary(type, d) {
  switch (type) {
    case 'status_update_event': return `${d.taskId || ''} → ${d.taskStatus || ''}${d.message ? ': ' + d.message : ''}`;
    case 'instance_changed_event': return `${d.instanceId || ''} → ${d.condition || ''}`;
    case 'health_status_changed_event': return `${d.taskId || d.instanceId || ''} is ${d.alive ? 'healthy' : 'unhealthy'}`;
    case 'failed_health_check_event': return `${d.taskId || ''}: ${d.cause || 'check failed'}`;
    case 'unhealthy_instance_kill_event': return `${d.taskId || ''} killed: ${d.reason || 'unhealthy'}`;
    case 'deployment_failed': return `${d.id || ''}${d.reason ? ': ' + d.reason : ''}`;
    case 'deployment_success': case 'deployment_info': return d.id || (d.plan && d.plan.id) || '';
    default: return '';
  }
}

function drawEvents(root, events, earlier) {
  const item = ({ type, d }, cls) => html`<li data-event-type="${type}" class="${cls}">
    <span class="muted">${local(d.timestamp)}</span> <b>${type.replace(/_event$/, '').replace(/_/g, ' ')}</b> <span>${eventSummary(type, d)}</span></li>`;
  if (!events.length && !earlier.length) {
    render(root.querySelector('#app-events'), html`<li class="muted">Events for this app appear here as they happen.</li>`);
    return;
  }
  render(root.querySelector('#app-events'), html`${events.map((e) => item(e, ''))}
    ${earlier.length ? html`<li class="events-note">Before this page opened, from the app's state:</li>${earlier.map((e) => item(e, 'earlier'))}` : ''}`);
}
