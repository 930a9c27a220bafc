// Shared widgets: toasts, the confirm/number dialog, and the JSON editor
// that shows an API's validation errors next to the fields they name.

import { html, render, esc } from './dom.js';
import { APIError } from './api.js';

/** toast shows a short message; kind is 'info', 'ok' or 'error'. */
export function toast(msg, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = document.createElement('div');
  el.className = 'toast ' + kind;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = msg;
  box.append(el);
  // Keep the corner readable: only the newest few stay.
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => el.remove(), kind === 'error' ? 10000 : 5000);
}

/**
 * warningToasts shows the warnings an API answer carries: what the server
 * ignored in the request, such as a misspelt field.
 */
export function warningToasts(answer) {
  const list = answer && Array.isArray(answer.warnings) ? answer.warnings : [];
  for (const w of list) toast(`Warning: ${w}`, 'warn');
}

/** errorText says what went wrong in a request, for a toast or banner. */
export function errorText(e) {
  if (e instanceof APIError) return e.status ? `${e.message} (HTTP ${e.status})` : e.message;
  return String(e && e.message ? e.message : e);
}

function openDialog(message, { input, value, okLabel = 'OK', danger = false }) {
  const dlg = document.getElementById('dialog');
  const inp = document.getElementById('dialog-input');
  const ok = document.getElementById('dialog-ok');
  document.getElementById('dialog-message').textContent = message;
  ok.textContent = okLabel;
  ok.classList.toggle('danger', danger);
  inp.hidden = !input;
  if (input) inp.value = value ?? '';
  return new Promise((resolve) => {
    const onKey = (ev) => {
      if (ev.key === 'Enter') { ev.preventDefault(); dlg.close('ok'); }
    };
    inp.addEventListener('keydown', onKey);
    dlg.addEventListener('close', () => {
      inp.removeEventListener('keydown', onKey);
      resolve(dlg.returnValue === 'ok' ? (input ? inp.value : true) : null);
    }, { once: true });
    dlg.returnValue = '';
    dlg.showModal();
    (input ? inp : ok).focus();
  });
}

/** confirmAction asks a yes/no question; it resolves to true or false. */
export async function confirmAction(message, opts = {}) {
  return (await openDialog(message, { ...opts, input: false })) === true;
}

/** askNumber asks for a whole number ≥ 0; it resolves to it, or null. */
export async function askNumber(message, value, opts = {}) {
  const v = await openDialog(message, { ...opts, input: true, value });
  if (v === null || v === '') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    toast(`"${v}" is not a whole number of 0 or more`, 'error');
    return null;
  }
  return n;
}

/**
 * jsonEditor renders, into root, a JSON textarea with a submit button and
 * a list of errors. onSubmit(value) sends the parsed JSON; when it throws
 * an APIError with details (422 {details: [{path, errors}]}), each path is
 * listed with its errors (li.field-error[data-path]), and clicking one
 * selects that field in the text. It returns {setText, focus}.
 */
export function jsonEditor(root, { id, initial, submitLabel = 'Create', onSubmit, onCancel }) {
  render(root, html`
    <div class="editor" id="${id}">
      <div class="editor-main">
        <textarea spellcheck="false" autocomplete="off" rows="18" data-role="text" aria-label="JSON definition"></textarea>
        <div class="editor-actions">
          <button type="button" class="primary" data-role="submit">${submitLabel}</button>
          <button type="button" data-role="cancel">Cancel</button>
          <span class="muted" data-role="status"></span>
        </div>
      </div>
      <aside class="editor-errors" data-role="errors" hidden></aside>
    </div>`);
  const box = root.querySelector('.editor');
  const text = box.querySelector('[data-role=text]');
  const errors = box.querySelector('[data-role=errors]');
  const status = box.querySelector('[data-role=status]');
  const submit = box.querySelector('[data-role=submit]');
  text.value = typeof initial === 'string' ? initial : JSON.stringify(initial, null, 2);

  function showErrors(message, details) {
    errors.hidden = false;
    render(errors, html`
      <h4>${message}</h4>
      <ul>${details.map((d) => html`<li class="field-error" data-path="${d.path}" title="Select this field">
        <code>${d.path || '/'}</code><span>${(d.errors || []).join('; ')}</span></li>`)}</ul>`);
    text.classList.add('invalid');
  }
  function clearErrors() {
    errors.hidden = true;
    errors.textContent = '';
    text.classList.remove('invalid');
  }
  errors.addEventListener('click', (ev) => {
    const li = ev.target.closest('.field-error');
    if (li) selectPath(text, li.dataset.path);
  });
  submit.addEventListener('click', async () => {
    let value;
    try {
      value = JSON.parse(text.value);
    } catch (e) {
      showErrors('Not valid JSON', [{ path: '/', errors: [e.message] }]);
      return;
    }
    submit.disabled = true;
    status.textContent = 'Sending…';
    try {
      await onSubmit(value);
      clearErrors();
      status.textContent = '';
    } catch (e) {
      status.textContent = '';
      if (e instanceof APIError && e.details.length) {
        showErrors(e.message || 'Invalid definition', e.details);
      } else {
        showErrors(errorText(e), []);
      }
    } finally {
      submit.disabled = false;
    }
  });
  box.querySelector('[data-role=cancel]').addEventListener('click', () => onCancel && onCancel());
  return {
    setText(v) { text.value = typeof v === 'string' ? v : JSON.stringify(v, null, 2); clearErrors(); },
    focus() { text.focus(); },
  };
}

/** selectPath selects, in a JSON textarea, the key a path like "/healthChecks(0)/portIndex" ends in. */
function selectPath(text, path) {
  const segs = String(path || '').split('/').map((s) => s.replace(/\(\d+\)$/, '')).filter((s) => s && !/^\d+$/.test(s));
  const key = segs[segs.length - 1];
  if (!key) { text.focus(); return; }
  const at = text.value.indexOf(JSON.stringify(key) + ':') >= 0
    ? text.value.indexOf(JSON.stringify(key) + ':')
    : text.value.indexOf(JSON.stringify(key));
  text.focus();
  if (at >= 0) {
    text.setSelectionRange(at, at + JSON.stringify(key).length);
    // Scroll the selection into view: put the line near the top.
    const line = text.value.slice(0, at).split('\n').length - 1;
    const lh = parseFloat(getComputedStyle(text).lineHeight) || 18;
    text.scrollTop = Math.max(0, (line - 2) * lh);
  }
}

/** banner is a framework-level notice (say, "not registered with the master"). */
export function banner(el, msg, kind = 'error') {
  if (!el) return;
  if (!msg) { el.hidden = true; el.textContent = ''; return; }
  el.hidden = false;
  el.className = 'banner ' + kind;
  el.innerHTML = esc(msg);
}
