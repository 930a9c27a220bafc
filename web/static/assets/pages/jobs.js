// The jobs pages: the jobs list with the dependency graph, and one job's
// page with its run history, through the master's proxy to the jobs
// framework's native /v1 API; live through its /v1/events.

import { JOBS, get, request, reader, refresher, stream, APIError } from '../api.js';
import { html, render, badge, count, num, mb, ago, inZone, local, duration, toMillis, route, logsRoute, emptyRow } from '../dom.js';
import { pager } from '../pager.js';
import { toast, errorText, confirmAction, jsonEditor, banner, warningToasts } from '../ui.js';
import { svg } from '../graph.js';

const EVENT_TYPES = ['job_saved', 'job_deleted', 'run_queued', 'run_starting', 'run_running', 'run_retrying',
  'run_succeeded', 'run_failed', 'run_skipped', 'run_missed', 'run_killed', 'run_notified'];

const NEW_JOB = {
  name: 'hello',
  command: 'echo hello from $HOSTNAME',
  schedule: '*/5 * * * *',
  timezone: 'UTC',
  cpus: 0.1,
  mem: 32,
};

// Fields of GET /v1/jobs/{name} that are state, not definition.
const VIEW_ONLY = ['successCount', 'errorCount', 'errorsSinceLastSuccess', 'lastSuccess', 'lastError', 'nextRun', 'version'];

const api = (path) => JOBS + path;
const jobPath = (name) => api('/v1/jobs/' + encodeURIComponent(name));

export function mount(root, params, ctx) {
  return params.job ? mountJob(root, params.job, ctx) : mountList(root, ctx);
}

function notReachable(e) {
  if (e instanceof APIError && (e.status === 502 || e.status === 503)) return e.message;
  return `Cannot read the jobs framework's API: ${errorText(e)}`;
}

/** lastResult is success, failure or fresh, from a job's last times. */
function lastResult(j) {
  const s = toMillis(j.lastSuccess), e = toMillis(j.lastError);
  if (s === null && e === null) return 'fresh';
  if (e === null || (s !== null && s >= e)) return 'success';
  return 'failure';
}

function scheduleCell(j) {
  if (j.schedule) return html`<code>${j.schedule}</code>`;
  if ((j.parents || []).length) return html`after ${j.parents.map((p, i) => html`${i ? ', ' : ''}<a href="${route('jobs', p)}">${p}</a>`)}`;
  return html`<span class="muted">manual</span>`;
}

function nextRunCell(j) {
  if (j.disabled) return html`<span class="muted">disabled</span>`;
  if (!j.nextRun) return html`<span class="muted">${j.schedule ? 'none' : '–'}</span>`;
  return html`<span title="${local(j.nextRun)} in your time zone">${inZone(j.nextRun, j.timezone)}</span> <span class="muted">${ago(j.nextRun)}</span>`;
}

// --- the jobs list -----------------------------------------------------------

// Up to this many jobs, the dependency graph is drawn with the list; above
// it (laying out and painting a thousand jobs takes a good part of a
// second, again on each change), only when asked, or for the jobs the
// filter leaves and their neighbours.
const GRAPH_AT_ONCE = 150;

// How long the graph waits for the filter to stop changing.
const GRAPH_FILTER_WAIT = 250;

function mountList(root, ctx) {
  render(root, html`
    <section class="page" id="jobs-page">
      <header class="page-head">
        <h1>Jobs</h1>
        <div class="head-actions">
          <input type="search" id="job-filter" placeholder="Filter jobs…" aria-label="Filter jobs">
          <button type="button" class="primary" id="new-job">New job</button>
        </div>
      </header>
      <div id="jobs-banner" hidden></div>
      <div id="job-create" class="panel" hidden></div>
      <div class="table-wrap"><table class="grid" id="jobs">
        <thead><tr><th>Job</th><th>Status</th><th>Schedule</th><th>Next run (job's zone)</th><th>Last result</th><th class="num">Succeeded</th><th class="num">Failed</th><th></th></tr></thead>
        <tbody></tbody></table></div>
      <div id="jobs-pager" hidden></div>
      <div class="section-head">
        <h2>Dependencies</h2>
        <button type="button" id="graph-hide" hidden>Hide the graph</button>
      </div>
      <p class="muted">Parents on the left, children on the right; a child runs after all its parents succeeded. Click a job to open it.</p>
      <div class="graph-wrap" id="graph"></div>
    </section>`);

  const createBox = root.querySelector('#job-create');
  let editor = null;
  root.querySelector('#new-job').addEventListener('click', () => {
    createBox.hidden = false;
    if (!editor) {
      editor = jsonEditor(createBox, {
        id: 'job-editor', initial: NEW_JOB, submitLabel: 'Create job',
        onSubmit: async (def) => {
          const out = await request('POST', api('/v1/jobs'), def);
          toast(`Created job ${out && out.name ? out.name : ''}`, 'ok');
          warningToasts(out);
          createBox.hidden = true;
          refresh(true);
        },
        onCancel: () => { createBox.hidden = true; },
      });
    }
    editor.focus();
  });

  let data = null;        // {jobs, graph, status, hay}
  let graphOpen = false;  // the user asked for a graph of more than GRAPH_AT_ONCE jobs
  let graphDrawn = null;  // what #graph shows: {jobs, graph, needle, open}
  let graphTimer = null;
  const filter = root.querySelector('#job-filter');
  const pg = pager(root.querySelector('#jobs-pager'), 'jobs', () => drawRows());
  const drawRows = () => data && drawJobs(root, data, filter.value, pg);

  function drawGraph() {
    clearTimeout(graphTimer);
    if (!data) return;
    const needle = norm(filter.value);
    const d = graphDrawn;
    if (d && d.jobs === data.jobs && d.graph === data.graph && d.needle === needle && d.open === graphOpen) return;
    graphDrawn = { jobs: data.jobs, graph: data.graph, needle, open: graphOpen };
    let part = data.graph, match = null;
    if (needle) {
      match = new Set(data.jobs.filter((j, i) => data.hay[i].includes(needle)).map((j) => j.name));
      part = neighbourhood(data.graph, match);
    }
    const nodes = (part.nodes || []).length, edges = (part.edges || []).length;
    const big = nodes > GRAPH_AT_ONCE;
    root.querySelector('#graph-hide').hidden = !(big && graphOpen);
    const el = root.querySelector('#graph');
    if (big && !graphOpen) {
      render(el, html`<div class="graph-deferred" id="graph-deferred" data-jobs="${nodes}" data-edges="${edges}">
        <span>${needle ? 'The matching jobs and their neighbours make' : 'The graph has'} ${count(nodes)} jobs and ${count(edges)} dependencies.
        ${needle ? 'Narrow the filter to draw fewer, or' : 'Filter the jobs to draw only the matching ones and their neighbours, or'}</span>
        <button type="button" id="graph-show">Draw all ${count(nodes)}</button></div>`);
      return;
    }
    if (needle && !nodes) {
      render(el, html`<p class="muted" id="job-graph-empty">No job matches the filter.</p>`);
      return;
    }
    // Around a filter, the neighbours that do not match are drawn faint.
    render(el, svg(part, { context: match ? (part.nodes || []).filter((n) => !match.has(n.name)).map((n) => n.name) : [] }));
  }

  filter.addEventListener('input', () => {
    pg.reset();
    drawRows();
    clearTimeout(graphTimer);
    graphTimer = setTimeout(drawGraph, GRAPH_FILTER_WAIT);
  });
  root.querySelector('#graph-hide').addEventListener('click', () => { graphOpen = false; drawGraph(); });
  root.querySelector('#graph').addEventListener('click', (ev) => {
    if (!ev.target.closest('#graph-show')) return;
    graphOpen = true;
    drawGraph();
  });

  const read = reader(api('/v1/jobs'), api('/v1/graph'));
  let stale = true; // the clock moved: draw even what did not change
  const refresh = refresher(async () => {
    let got;
    try {
      got = await read();
    } catch (e) {
      banner(root.querySelector('#jobs-banner'), notReachable(e));
      return;
    }
    banner(root.querySelector('#jobs-banner'), '');
    if (!stale && !got.changed.some(Boolean)) return;
    stale = false;
    const [jobs, graph] = got.data;
    data = {
      jobs: jobs || [],
      graph: graph || { nodes: [], edges: [] },
      status: new Map(((graph && graph.nodes) || []).map((n) => [n.name, n.status])),
    };
    data.hay = data.jobs.map((j) => `${j.name} ${j.command || ''} ${j.description || ''}`.toLowerCase());
    drawRows();
    drawGraph();
  });
  refresh(true);
  // Each event, and each (re)connection of the stream, re-reads the jobs;
  // a read that finds them as drawn draws nothing.
  const stop = stream(api('/v1/events'), EVENT_TYPES, () => refresh(), (s) => ctx.setLive(s, 'the jobs framework'));
  // Next-run times and "ago"s move with the clock.
  const tick = setInterval(() => { stale = true; refresh(); }, 30000);
  root.querySelector('#jobs-page').addEventListener('click', (ev) => onAction(ev, refresh));
  return () => { stop(); refresh.stop(); clearInterval(tick); clearTimeout(graphTimer); };
}

const norm = (q) => (q || '').trim().toLowerCase();

/**
 * neighbourhood is the part of a graph ({nodes, edges}) around the jobs
 * named in match: those jobs, their parents and children, and the edges
 * that touch a job of match.
 */
function neighbourhood(graph, match) {
  const edges = (graph.edges || []).filter((e) => match.has(e.from) || match.has(e.to));
  const keep = new Set(match);
  for (const e of edges) {
    keep.add(e.from);
    keep.add(e.to);
  }
  return { nodes: (graph.nodes || []).filter((n) => keep.has(n.name)), edges };
}

function drawJobs(root, data, q, pg) {
  const needle = norm(q);
  const matching = needle ? data.jobs.filter((j, i) => data.hay[i].includes(needle)) : data.jobs;
  const jobs = pg.take(matching, data.jobs.length);
  render(root.querySelector('#jobs tbody'), jobs.length ? jobs.map((j) => {
    const st = j.disabled ? 'disabled' : data.status.get(j.name) || 'idle';
    const last = lastResult(j);
    return html`<tr data-job-name="${j.name}" data-status="${st}">
      <td><a class="id" href="${route('jobs', j.name)}">${j.name}</a>${j.description ? html`<div class="muted">${j.description}</div>` : ''}</td>
      <td data-field="status">${badge(st)}</td>
      <td>${scheduleCell(j)}${j.schedule && j.timezone ? html` <span class="muted">${j.timezone}</span>` : ''}</td>
      <td class="nowrap" data-field="next">${nextRunCell(j)}</td>
      <td class="nowrap" data-field="last">${badge(last)} <span class="muted">${ago(last === 'failure' ? j.lastError : j.lastSuccess)}</span></td>
      <td class="num" data-field="successes">${j.successCount || 0}</td>
      <td class="num" data-field="errors">${j.errorCount || 0}</td>
      <td class="actions">
        <button type="button" data-action="run" data-job-name="${j.name}">Run now</button>
        <button type="button" data-action="toggle" data-job-name="${j.name}">${j.disabled ? 'Enable' : 'Disable'}</button>
        <button type="button" class="danger" data-action="delete" data-job-name="${j.name}">Delete</button>
      </td></tr>`;
  }) : emptyRow(8, data.jobs.length ? 'No job matches the filter.' : 'No jobs yet. Create one with “New job”.'));
}

/** definitionOf is a job as GET returns it, minus the state. */
function definitionOf(j) {
  const def = { ...j };
  for (const k of VIEW_ONLY) delete def[k];
  return def;
}

async function onAction(ev, refresh) {
  const b = ev.target.closest('button[data-action]');
  if (!b || b.disabled) return;
  const name = b.dataset.jobName;
  try {
    switch (b.dataset.action) {
      case 'run': {
        b.disabled = true;
        try {
          const run = await request('POST', jobPath(name) + '/run', {});
          toast(`Run ${run.id} of ${name} queued`, 'ok');
        } finally {
          b.disabled = false;
        }
        break;
      }
      case 'toggle': {
        const def = definitionOf(await get(jobPath(name)));
        def.disabled = !def.disabled;
        await request('PUT', jobPath(name), def);
        toast(`${name} ${def.disabled ? 'disabled' : 'enabled'}`, 'ok');
        break;
      }
      case 'delete': {
        if (!(await confirmAction(`Delete job ${name}? Its run history goes too.`, { okLabel: 'Delete', danger: true }))) return;
        try {
          await request('DELETE', jobPath(name));
        } catch (e) {
          if (!(e instanceof APIError) || e.status !== 409) throw e;
          const kids = (e.body && e.body.children) || [];
          if (!(await confirmAction(`${name} has dependent jobs (${kids.join(', ')}). Delete it anyway and rewire them to its parents (or its schedule)?`, { okLabel: 'Delete and rewire', danger: true }))) return;
          await request('DELETE', jobPath(name) + '?force=true');
        }
        toast(`Deleted ${name}`, 'ok');
        if (location.hash.startsWith('#/jobs/')) location.hash = '#/jobs';
        break;
      }
      case 'stop':
        await request('POST', `${jobPath(name)}/runs/${encodeURIComponent(b.dataset.runId)}/stop`);
        toast(`Stopping run ${b.dataset.runId}`, 'ok');
        break;
      default:
        return;
    }
  } catch (e) {
    toast(errorText(e), 'error');
  }
  refresh(true);
}

// --- one job ---------------------------------------------------------------------

function mountJob(root, name, ctx) {
  render(root, html`
    <section class="page" id="job-page" data-job-name="${name}">
      <header class="page-head">
        <h1><a href="#/jobs">Jobs</a> <span class="sep">/</span> <code>${name}</code> <span id="job-status"></span></h1>
        <div class="head-actions">
          <button type="button" class="primary" data-action="run" data-job-name="${name}">Run now</button>
          <button type="button" data-action="toggle" data-job-name="${name}" id="job-toggle">Disable</button>
          <button type="button" id="job-edit-open">Edit</button>
          <button type="button" class="danger" data-action="delete" data-job-name="${name}">Delete</button>
        </div>
      </header>
      <div id="jobs-banner" hidden></div>
      <div id="job-edit" class="panel" hidden></div>
      <div class="kv" id="job-summary"></div>
      <h2>Runs</h2>
      <div class="table-wrap"><table class="grid" id="runs">
        <thead><tr><th class="num">Run</th><th>Trigger</th><th>State</th><th>Attempt</th><th>Scheduled for</th><th>Started</th><th>Took</th><th>Exit</th><th>Host</th><th>Notified</th><th>Reason</th><th></th></tr></thead>
        <tbody></tbody></table></div>
    </section>`);

  let job = null;
  const editBox = root.querySelector('#job-edit');
  let editor = null;
  root.querySelector('#job-edit-open').addEventListener('click', () => {
    if (!job) return;
    editBox.hidden = false;
    if (!editor) {
      editor = jsonEditor(editBox, {
        id: 'job-edit-editor', initial: definitionOf(job), submitLabel: 'Save',
        onSubmit: async (def) => {
          await request('PUT', jobPath(name), def);
          toast(`Saved ${name}`, 'ok');
          editBox.hidden = true;
          refresh(true);
        },
        onCancel: () => { editBox.hidden = true; },
      });
    } else {
      editor.setText(definitionOf(job));
    }
    editor.focus();
  });

  // The job and its runs are what the page waits for. Its children (the
  // jobs that name it a parent) come from the jobs list, read after the
  // first draw and again only when a job changes.
  const readJob = reader(jobPath(name), jobPath(name) + '/runs?limit=50');
  let runs = [];
  let children = null; // names, once read
  let stale = true;    // the clock moved: draw even what did not change
  const refresh = refresher(async () => {
    let got;
    try {
      got = await readJob();
    } catch (e) {
      if (e instanceof APIError && e.status === 404) {
        banner(root.querySelector('#jobs-banner'), `Job ${name} does not exist (any more).`, 'warn');
        render(root.querySelector('#runs tbody'), emptyRow(11, 'No runs.'));
        return;
      }
      banner(root.querySelector('#jobs-banner'), notReachable(e));
      return;
    }
    banner(root.querySelector('#jobs-banner'), '');
    if (!stale && !got.changed.some(Boolean)) return;
    stale = false;
    [job, runs] = got.data;
    runs = runs || [];
    drawJob(root, job, runs, children);
    if (!familyAsked) family(true);
  });

  const readJobs = reader(api('/v1/jobs'));
  let familyAsked = false;
  const family = refresher(async () => {
    familyAsked = true;
    let got;
    try {
      got = await readJobs();
    } catch (e) {
      render(root.querySelector('#job-children'), html`<span class="muted">unknown: ${errorText(e)}</span>`);
      return;
    }
    if (children !== null && !got.changed[0]) return;
    children = (got.data[0] || []).filter((x) => (x.parents || []).includes(name)).map((x) => x.name);
    render(root.querySelector('#job-children'), childrenCell(children));
  });

  refresh(true);
  const stop = stream(api('/v1/events'), EVENT_TYPES, (type, d) => {
    if (type === 'attached') {
      // What changed before the stream attached may not be drawn yet. The
      // children need a re-read only if they were read before it did.
      refresh();
      if (familyAsked) family();
    } else if (type.startsWith('job_')) {
      // A job saved or deleted may be this one, a new child, or a parent
      // whose deletion rewired this one.
      refresh();
      family();
    } else if (!d || d.job === name) {
      refresh();
    }
  }, (s) => ctx.setLive(s, 'the jobs framework'));
  const tick = setInterval(() => { stale = true; refresh(); }, 30000);
  root.querySelector('#job-page').addEventListener('click', (ev) => onAction(ev, refresh));
  return () => { stop(); refresh.stop(); family.stop(); clearInterval(tick); };
}

/** statusOf is a job's status from its newest runs: running, queued or idle. */
function statusOf(runs) {
  if (runs.some((r) => r.state === 'STARTING' || r.state === 'RUNNING')) return 'running';
  if (runs.some((r) => r.state === 'QUEUED')) return 'queued';
  return 'idle';
}

function childrenCell(children) {
  if (children === null) return html`<span class="muted">…</span>`;
  if (!children.length) return 'none';
  return children.map((c, i) => html`${i ? ', ' : ''}<a href="${route('jobs', c)}">${c}</a>`);
}

function drawJob(root, j, runs, children) {
  const st = j.disabled ? 'disabled' : statusOf(runs);
  render(root.querySelector('#job-status'), badge(st));
  root.querySelector('#job-toggle').textContent = j.disabled ? 'Enable' : 'Disable';
  const cmd = j.command || (j.args || []).join(' ');
  render(root.querySelector('#job-summary'), html`
    <div><span class="k">Command</span><pre class="v cmd-full">${cmd}</pre></div>
    <div><span class="k">Schedule</span><span class="v">${scheduleCell(j)}${j.schedule ? html` in <b>${j.timezone || 'UTC'}</b>` : ''}</span></div>
    <div><span class="k">Next run</span><span class="v" data-field="next">${nextRunCell(j)}</span></div>
    <div><span class="k">Children</span><span class="v" id="job-children">${childrenCell(children)}</span></div>
    <div><span class="k">Last result</span><span class="v">${badge(lastResult(j))} ${j.successCount || 0} succeeded, ${j.errorCount || 0} failed${j.errorsSinceLastSuccess ? html`, <span class="text-bad">${j.errorsSinceLastSuccess} since the last success</span>` : ''}</span></div>
    <div><span class="k">Resources</span><span class="v">cpus ${num(j.cpus)} · mem ${mb(j.mem)} · disk ${mb(j.disk || 0)}</span></div>
    <div><span class="k">Policy</span><span class="v">retries ${j.retries ?? 0} (backoff ${j.retryBackoffSeconds ?? 0}s) · timeout ${j.timeoutSeconds ? j.timeoutSeconds + 's' : 'none'} · concurrency ${j.concurrencyPolicy || 'ALLOW'}${j.softError ? ' · soft errors' : ''}</span></div>
    ${j.description ? html`<div><span class="k">Description</span><span class="v">${j.description}</span></div>` : ''}`);

  render(root.querySelector('#runs tbody'), runs.length ? runs.map((r) => {
    const started = toMillis(r.startedAt), finished = toMillis(r.finishedAt);
    const took = started !== null ? duration(((finished ?? Date.now()) - started) / 1000) : '';
    const active = ['QUEUED', 'STARTING', 'RUNNING'].includes(r.state);
    const logs = r.agentId && r.taskId ? logsRoute(r.agentId, r.taskId, sandboxPath(r.sandbox)) : '';
    return html`<tr data-run-id="${r.id}" data-state="${r.state}">
      <td class="num">${r.id}</td>
      <td>${r.trigger}${(r.triggeredBy || []).length ? html` <span class="muted">by ${r.triggeredBy.join(', ')}</span>` : ''}</td>
      <td data-field="state">${badge(r.state)}</td>
      <td>${(r.attempt || 0) + 1} / ${r.maxAttempts}</td>
      <td>${r.scheduledFor ? inZone(r.scheduledFor, j.timezone) : html`<span class="muted">–</span>`}</td>
      <td>${started !== null ? ago(r.startedAt) : html`<span class="muted">${ago(r.queuedAt)} (queued)</span>`}</td>
      <td>${took}</td>
      <td>${r.exitStatus === null || r.exitStatus === undefined ? '' : r.exitStatus}</td>
      <td>${r.host || ''}</td>
      <td data-field="notified">${notifiedCell(r.notifications)}</td>
      <td class="msg">${r.reason || ''}</td>
      <td class="actions">${logs ? html`<a href="${logs}" data-logs="${r.taskId}">logs</a>` : ''}
        ${active ? html`<button type="button" data-action="stop" data-job-name="${j.name}" data-run-id="${r.id}">Stop</button>` : ''}</td></tr>`;
  }) : emptyRow(12, 'No runs yet. “Run now” starts one.'));
}

/** notifiedCell sums up how a run's webhook notifications go: the state of
 * a lone one (with its attempts while it fails), else how many are in each
 * state; the title names the URLs and the last errors. */
function notifiedCell(ns) {
  if (!ns || !ns.length) return '';
  const title = ns.map((n) => `${n.url}: ${n.state}${n.lastError ? ' (' + n.lastError + ')' : ''}`).join('\n');
  const bad = ns.some((n) => n.state === 'failing' || n.state === 'abandoned');
  let text;
  if (ns.length === 1) {
    const n = ns[0];
    text = bad ? `${n.state} ×${n.attempts}` : n.state;
  } else {
    text = ['pending', 'failing', 'delivered', 'abandoned']
      .map((st) => [st, ns.filter((n) => n.state === st).length])
      .filter(([, k]) => k > 0)
      .map(([st, k]) => `${k} ${st}`)
      .join(', ');
  }
  return html`<span class="${bad ? 'text-bad' : ''}" title="${title}">${text}</span>`;
}

/** sandboxPath takes the sandbox path out of a run's files URL. */
function sandboxPath(u) {
  if (!u) return '';
  try {
    return new URL(u).searchParams.get('path') || '';
  } catch {
    return '';
  }
}
