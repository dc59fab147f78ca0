// Small DOM helpers. Every piece of data becomes a text node: nothing here
// ever assigns innerHTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function applyProps(el, props) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'style') throw new Error('use classes or el.style, not style attributes');
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'required' || k === 'multiple' || k === 'hidden' || k === 'readOnly') el[k] = Boolean(v);
    else if (k.startsWith('on')) throw new Error('use on: {event: fn}');
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// h('div', {class: 'x'}, 'text', child, [more]) builds an element.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

// s() builds an SVG element; attributes are presentation attributes, not style.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// Formatting

export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function fmtDay(iso) {
  if (!iso) return '—';
  const d = new Date(iso.length === 10 ? iso + 'T00:00:00Z' : iso);
  if (isNaN(d)) return String(iso);
  return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: iso.length === 10 ? 'UTC' : undefined });
}

export function fmtRel(iso) {
  if (!iso) return '—';
  const t = new Date(iso).getTime();
  if (isNaN(t)) return String(iso);
  const diff = (Date.now() - t) / 1000;
  const abs = Math.abs(diff);
  const fmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const sign = diff >= 0 ? -1 : 1;
  if (abs < 60) return fmt.format(sign * Math.round(abs), 'second');
  if (abs < 3600) return fmt.format(sign * Math.round(abs / 60), 'minute');
  if (abs < 86400) return fmt.format(sign * Math.round(abs / 3600), 'hour');
  if (abs < 86400 * 30) return fmt.format(sign * Math.round(abs / 86400), 'day');
  return fmtDate(iso);
}

export function pct(x, digits = 1) {
  if (x === null || x === undefined || isNaN(x)) return '—';
  return (x * 100).toFixed(digits) + '%';
}

export const ROLE_LABELS = {
  admin: 'Admin',
  release_manager: 'Release manager',
  product_owner: 'Product owner',
  tester: 'Tester',
};

export const STATUS_LABELS = {
  new: 'New',
  acknowledged: 'Acknowledged',
  in_progress: 'In progress',
  resolved: 'Resolved',
  wont_fix: "Won't fix",
  duplicate: 'Duplicate',
};

export const CHANGE_LABELS = {
  pending: 'Pending',
  approved: 'Approved',
  reverted: 'Reverted',
};

export const STAGE_LABELS = {
  qc: 'QC',
  staging: 'Staging',
  production: 'Production',
  superseded: 'Superseded',
  rolled_back: 'Rolled back',
};

export function label(map, key) {
  return map[key] || String(key || '—').replace(/_/g, ' ');
}

export function badge(kind, value, labels) {
  return h('span', { class: `badge badge-${kind} badge-${kind}-${value}` }, labels ? label(labels, value) : String(value));
}

// States

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function empty(text, ...extra) {
  return h('div', { class: 'empty' }, h('p', {}, text), ...extra);
}

export function errorBox(err, retry) {
  const msg = (err && err.message) || String(err);
  const box = h('div', { class: 'error-box', role: 'alert' }, h('strong', {}, msg));
  if (err && err.fields) {
    box.appendChild(h('ul', {}, Object.entries(err.fields).map(([f, why]) => h('li', {}, `${f}: ${why}`))));
  }
  if (err && Array.isArray(err.blockers) && err.blockers.length) {
    box.appendChild(h('ul', { class: 'blockers' }, err.blockers.map((b) => h('li', {}, b))));
  }
  if (retry) box.appendChild(h('div', {}, h('button', { type: 'button', class: 'btn btn-small', on: { click: retry } }, 'Try again')));
  return box;
}

// Shows an API error next to a form; fields map to inputs by name.
export function showFormError(form, err) {
  for (const el of form.querySelectorAll('.field-error')) el.remove();
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  let slot = form.querySelector('.form-error');
  if (!slot) {
    slot = h('div', { class: 'form-error' });
    form.prepend(slot);
  }
  clear(slot);
  if (!err) return;
  slot.appendChild(errorBox(err));
  if (err.fields) {
    for (const [name, why] of Object.entries(err.fields)) {
      const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
      if (input) {
        input.setAttribute('aria-invalid', 'true');
        input.insertAdjacentElement('afterend', h('span', { class: 'field-error' }, why));
      }
    }
  }
}

// Toasts

export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: `toast toast-${kind}` }, message);
  box.appendChild(t);
  while (box.children.length > 3) box.firstChild.remove();
  setTimeout(() => t.remove(), kind === 'error' ? 7000 : 3500);
}

// Wraps an async event handler so a rejection becomes a toast, never an
// uncaught error.
export function safe(fn) {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      toast(err && err.message ? err.message : String(err), 'error');
    }
  };
}

// Copy to clipboard, with a fallback for non-secure origins.
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (_) {
    // fall through to the selection fallback
  }
  const ta = h('textarea', { class: 'offscreen', readonly: 'readonly' });
  ta.value = text;
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch (_) {
    ok = false;
  }
  ta.remove();
  return ok;
}

export function copyButton(text, what = 'Copy', extra = {}) {
  const btn = h('button', { type: 'button', class: 'btn btn-small copy-btn', 'aria-label': `${what}`, ...extra }, 'Copy');
  btn.addEventListener('click', safe(async () => {
    const ok = await copyText(text);
    btn.textContent = ok ? 'Copied' : 'Copy failed';
    toast(ok ? 'Copied to the clipboard' : 'Could not copy: select the text and copy it', ok ? 'ok' : 'error');
    setTimeout(() => { btn.textContent = 'Copy'; }, 1500);
  }));
  return btn;
}

// Modal dialog built on <dialog>. Resolves with the value of the pressed
// action, or null when cancelled.
export function modal({ title, body, actions = [], testid, onSubmit }) {
  return new Promise((resolve) => {
    const form = h('form', { method: 'dialog', class: 'modal-form' });
    const dlg = h('dialog', { class: 'modal', 'aria-labelledby': 'modal-title', 'data-testid': testid || 'modal' },
      form);
    form.append(
      h('h2', { id: 'modal-title' }, title),
      h('div', { class: 'modal-body' }, body),
      h('div', { class: 'modal-actions' },
        h('button', { type: 'button', class: 'btn btn-ghost', value: '', 'data-testid': 'modal-cancel', on: { click: () => done(null) } }, 'Cancel'),
        actions.map((a) => h('button', { type: 'submit', class: `btn ${a.class || 'btn-primary'}`, value: a.value, 'data-testid': a.testid || null }, a.label))),
    );
    let finished = false;
    function done(v) {
      if (finished) return;
      finished = true;
      dlg.close();
      dlg.remove();
      resolve(v);
    }
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = e.submitter ? e.submitter.value : (actions[0] && actions[0].value);
      if (onSubmit) {
        const msg = onSubmit(v, form);
        if (msg) {
          showFormError(form, { message: msg });
          return;
        }
      }
      done(v);
    });
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); done(null); });
    document.body.appendChild(dlg);
    dlg.showModal();
    const first = form.querySelector('textarea, input, select');
    if (first) first.focus();
  });
}

export function confirmDialog(title, text, actionLabel, danger = true) {
  return modal({
    title,
    body: h('p', {}, text),
    actions: [{ label: actionLabel, value: 'ok', class: danger ? 'btn-danger' : 'btn-primary', testid: 'modal-confirm' }],
    testid: 'confirm-dialog',
  }).then((v) => v === 'ok');
}

// A labelled form field.
let fieldSeq = 0;
export function field(labelText, input, hint) {
  if (!input.id) input.id = `f${++fieldSeq}`;
  const hintEl = hint ? h('small', { class: 'hint', id: `${input.id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: input.id }, labelText), input, hintEl);
}

export function select(name, options, value, props = {}) {
  return h('select', { name, ...props },
    options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, text)));
}

export function debounce(fn, ms) {
  let t = null;
  const d = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  d.cancel = () => clearTimeout(t);
  return d;
}

export function setTitle(text) {
  document.title = text ? `${text} · Playgate` : 'Playgate';
}

export function randomKey() {
  const a = new Uint8Array(16);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}
