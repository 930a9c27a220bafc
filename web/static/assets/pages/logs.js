// A task's logs: its sandbox's stdout or stderr read through the master's
// proxy to the agent's /files/read, followed as the file grows (about one
// read a second) like `tail -f`.

import { get, readFile, browse, downloadURL, APIError } from '../api.js';
import { html, render, badge, mb, local, route } from '../dom.js';
import { errorText } from '../ui.js';

const INITIAL_BYTES = 64 * 1024;   // how far back the first read starts
const CHUNK = 512 * 1024;          // the most one read asks for
const KEEP_CHARS = 2 * 1024 * 1024; // text kept on the page
const POLL_MS = 1000;

export function mount(root, params, ctx) {
  const { agent, task } = params;
  const q = params.query;
  let stream = q.get('stream') === 'stderr' ? 'stderr' : 'stdout';
  render(root, html`
    <section class="page" id="logs-page" data-task-id="${task}" data-agent-id="${agent}">
      <header class="page-head">
        <h1>Logs <span class="sep">/</span> <code>${task}</code></h1>
        <div class="head-actions">
          <div class="seg" role="tablist">
            <button type="button" data-stream="stdout" role="tab">stdout</button>
            <button type="button" data-stream="stderr" role="tab">stderr</button>
          </div>
          <label class="check"><input type="checkbox" id="log-follow" checked> follow</label>
          <a class="button" id="log-download" href="#">download</a>
        </div>
      </header>
      <div class="kv" id="log-task"></div>
      <div id="log-banner" hidden></div>
      <pre class="log" id="log-output" data-stream="${stream}" tabindex="0"></pre>
      <p class="muted" id="log-status"></p>
      <details id="log-files"><summary>Sandbox files</summary><div class="table-wrap"><table class="grid"><tbody></tbody></table></div></details>
    </section>`);
  ctx.setLive('connecting', 'the agent');

  const out = root.querySelector('#log-output');
  const status = root.querySelector('#log-status');
  const bannerEl = root.querySelector('#log-banner');
  const follow = root.querySelector('#log-follow');
  let sandbox = q.get('path') || '';
  let pos = -1;        // next byte to read; -1: not started
  let timer = null;
  let stopped = false;
  let gen = 0;         // bumps on a stream switch, so stale reads are dropped

  const showBanner = (msg, kind = 'warn') => {
    bannerEl.hidden = !msg;
    bannerEl.className = 'banner ' + kind;
    bannerEl.textContent = msg || '';
  };

  function selectStream(s) {
    stream = s;
    gen++;
    pos = -1;
    out.textContent = '';
    out.dataset.stream = s;
    out.dataset.bytes = '0';
    for (const b of root.querySelectorAll('[data-stream]')) {
      if (b.tagName === 'BUTTON') b.classList.toggle('active', b.dataset.stream === s);
    }
    if (sandbox) root.querySelector('#log-download').href = downloadURL(agent, `${sandbox}/${s}`);
    schedule(0);
  }

  function schedule(ms) {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(poll, ms);
  }

  function append(text) {
    if (!text) return;
    const stick = follow.checked;
    out.append(document.createTextNode(text));
    if (out.textContent.length > KEEP_CHARS) {
      out.textContent = '…\n' + out.textContent.slice(-KEEP_CHARS / 2);
    }
    if (stick) out.scrollTop = out.scrollHeight;
  }

  async function poll() {
    const mine = gen;
    if (!sandbox) {
      try {
        sandbox = await findSandbox(agent, task, root);
      } catch (e) {
        showBanner(errorText(e), 'error');
        ctx.setLive('down', 'the agent');
        schedule(POLL_MS * 3);
        return;
      }
      if (!sandbox) {
        showBanner(`The master does not know task ${task} (any more), so its sandbox cannot be found.`, 'error');
        ctx.setLive('down', 'the agent');
        return;
      }
      selectStream(stream);
      listFiles();
      return;
    }
    const path = `${sandbox}/${stream}`;
    try {
      const size = (await readFile(agent, path, -1)).offset;
      if (mine !== gen) return;
      if (pos < 0) pos = Math.max(0, size - INITIAL_BYTES);
      if (size < pos) {
        // Rotated (the agent moved it to .1 and began anew): the rest of
        // what was not read yet is at the same offset in .1.
        let rest = null;
        try {
          const rotatedSize = (await readFile(agent, `${path}.1`, -1)).offset;
          if (rotatedSize >= pos) {
            rest = rotatedSize > pos ? (await readFile(agent, `${path}.1`, pos, Math.min(rotatedSize - pos, CHUNK))).data : '';
          }
        } catch (e) {
          if (!(e instanceof APIError)) throw e;
        }
        if (mine !== gen) return;
        if (rest === null) append(`\n--- ${stream} was truncated; reading from its start ---\n`);
        else append(rest);
        pos = 0;
      }
      if (size > pos) {
        const length = Math.min(size - pos, CHUNK);
        const r = await readFile(agent, path, pos, length);
        if (mine !== gen) return;
        append(r.data);
        pos += length;
        out.dataset.bytes = String(pos);
      }
      showBanner('');
      ctx.setLive('open', `${stream} on the agent`);
      status.textContent = `${stream}: ${bytes(pos)} read · ${follow.checked ? 'following' : 'paused'} · updated ${local(new Date())}`;
      schedule(size > pos ? 0 : POLL_MS);
    } catch (e) {
      if (mine !== gen) return;
      if (e instanceof APIError && e.status === 404) {
        showBanner(`${stream} does not exist yet in the sandbox; waiting for it.`, 'warn');
        ctx.setLive('open', `${stream} on the agent`);
      } else {
        showBanner(`Cannot read ${stream}: ${errorText(e)}`, 'error');
        ctx.setLive('down', 'the agent');
      }
      schedule(POLL_MS * 2);
    }
  }

  async function listFiles() {
    try {
      const entries = await browse(agent, sandbox);
      render(root.querySelector('#log-files tbody'), (entries || []).map((f) => {
        const name = String(f.path || '').split('/').pop();
        const dir = String(f.mode || '').startsWith('d');
        return html`<tr><td class="id">${name}${dir ? '/' : ''}</td>
          <td>${dir ? '' : bytes(f.size)}</td><td>${local(f.mtime)}</td>
          <td>${dir ? '' : html`<a href="${downloadURL(agent, f.path)}">download</a>`}</td></tr>`;
      }));
    } catch (e) {
      render(root.querySelector('#log-files tbody'), html`<tr><td>${errorText(e)}</td></tr>`);
    }
  }

  root.querySelector('#logs-page').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-stream]');
    if (b && b.dataset.stream !== stream) selectStream(b.dataset.stream);
  });
  follow.addEventListener('change', () => { if (follow.checked) out.scrollTop = out.scrollHeight; });

  if (sandbox) {
    selectStream(stream);
    listFiles();
  } else {
    schedule(0);
  }
  describeTask(root, agent, task);
  return () => { stopped = true; clearTimeout(timer); };
}

/** bytes formats a byte count. */
function bytes(n) {
  if (!n) return '0 B';
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
  return mb(n / 1024 / 1024);
}

/** allTasks lists every task /state knows, with its framework's name. */
function allTasks(st) {
  const out = [];
  for (const f of [...(st.frameworks || []), ...(st.completed_frameworks || [])]) {
    for (const t of [...(f.tasks || []), ...(f.unreachable_tasks || []), ...(f.completed_tasks || [])]) out.push({ ...t, fw: f });
  }
  return out;
}

/** findSandbox asks the master where the task's sandbox is. */
async function findSandbox(agent, task, root) {
  const st = await get('console/state');
  root._state = st;
  const t = allTasks(st).find((x) => x.id === task && x.slave_id === agent) || allTasks(st).find((x) => x.id === task);
  if (!t) return '';
  if (t.sandbox) return t.sandbox;
  // Sandboxes live at <framework id>/<task id> below the agent's root.
  return `${t.framework_id}/${t.id}`;
}

async function describeTask(root, agent, task) {
  let st = root._state;
  try {
    if (!st) st = await get('console/state');
  } catch {
    return;
  }
  const t = allTasks(st).find((x) => x.id === task);
  const a = (st.slaves || []).find((x) => x.id === agent);
  render(root.querySelector('#log-task'), html`
    <div><span class="k">Agent</span><span class="v">${a ? a.hostname : ''} <span class="id">${agent}</span></span></div>
    ${t ? html`<div><span class="k">Framework</span><span class="v">${t.fw.name === 'services' || t.fw.name === 'jobs' ? html`<a href="${route(t.fw.name)}">${t.fw.name}</a>` : t.fw.name}</span></div>
      <div><span class="k">State</span><span class="v">${badge(t.state)}</span></div>
      ${t.command ? html`<div><span class="k">Command</span><pre class="v cmd-full">${t.command}</pre></div>` : ''}` : ''}`);
}
