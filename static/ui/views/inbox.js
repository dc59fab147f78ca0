// The feedback inbox of a build: filters, search, keyboard navigation, a
// detail pane with triage and replies, CSV export.

import * as api from '../api.js';
import { h, replace, clear, empty, fmtRel, select, setTitle, debounce, errorBox, loading, toast, safe, field, STATUS_LABELS } from '../dom.js';
import { buildHeader } from './common.js';
import { feedbackDetail, kindBadge, statusBadge } from './feedback-detail.js';

const FILTERS = ['kind', 'severity', 'status', 'change_id', 'q'];

export async function render(root, ctx) {
  const id = Number(ctx.params[0]);
  const [build, changes] = await Promise.all([api.get(`/builds/${id}`), api.all(`/builds/${id}/changes`)]);
  if (!ctx.isCurrent()) return;
  setTitle(`Inbox · Build ${build.version}`);
  const head = await buildHeader(build, 'inbox', ctx.user);

  const state = Object.fromEntries(FILTERS.map((k) => [k, ctx.query.get(k) || '']));
  let selected = Number(ctx.query.get('item')) || null;
  let items = [];
  let cursor = null;
  let detail = null;

  const kind = select('kind', [['', 'All kinds'], ['bug', 'Bugs'], ['suggestion', 'Suggestions'], ['praise', 'Praise'], ['other', 'Other']], state.kind, { id: 'filter-kind' });
  const severity = select('severity', [['', 'Any severity'], ['critical', 'Critical'], ['high', 'High'], ['medium', 'Medium'], ['low', 'Low']], state.severity, { id: 'filter-severity' });
  const status = select('status', [['', 'Any status'], ...Object.entries(STATUS_LABELS)], state.status, { id: 'filter-status' });
  const change = select('change_id', [['', 'Any change'], ...changes.map((c) => [c.id, `${c.key}: ${c.title}`])], state.change_id, { id: 'filter-change' });
  const q = h('input', { type: 'search', name: 'q', id: 'filter-q', value: state.q, placeholder: 'Search titles and text', autocomplete: 'off' });
  const exportBtn = h('button', { type: 'button', class: 'btn', id: 'export-csv' }, 'Export CSV');
  const exportStatus = h('span', { class: 'muted small', id: 'export-status', role: 'status' });

  const list = h('ul', { class: 'inbox-list', id: 'inbox-list', 'aria-label': 'Feedback' });
  const more = h('div', { class: 'more' });
  const countLine = h('p', { class: 'muted small', id: 'inbox-count', 'aria-live': 'polite' });
  const pane = h('div', { class: 'inbox-detail', id: 'inbox-detail' });
  const layout = h('div', { class: 'inbox' },
    h('div', { class: 'inbox-left' }, countLine, list, more),
    pane);

  const syncUrl = () => {
    const params = {};
    for (const k of FILTERS) params[k] = state[k];
    params.item = selected || '';
    history.replaceState(null, '', `/builds/${id}/inbox${api.qs(params)}`);
  };

  function itemButton(f) {
    const btn = h('button', {
      type: 'button',
      class: 'inbox-item',
      'data-testid': `inbox-item-${f.id}`,
      'data-id': String(f.id),
      'aria-current': f.id === selected ? 'true' : null,
      on: { click: () => select_(f.id, true) },
    },
    h('span', { class: 'inbox-title' }, f.title),
    h('span', { class: 'badges' }, kindBadge(f), statusBadge(f.status)),
    h('span', { class: 'muted small' }, `${f.tester_name || 'Tester ' + f.tester_id} · ${fmtRel(f.created_at)}`,
      f.comment_count ? ` · ${f.comment_count} repl${f.comment_count === 1 ? 'y' : 'ies'}` : '',
      f.attachment_count ? ` · ${f.attachment_count} screenshot${f.attachment_count === 1 ? '' : 's'}` : ''));
    return h('li', {}, btn);
  }

  function drawList() {
    if (!items.length) {
      replace(list, h('li', {}, empty(FILTERS.some((k) => state[k]) ? 'Nothing matches these filters.' : 'No feedback yet. It shows up here as testers send it.')));
    } else {
      replace(list, items.map(itemButton));
    }
    countLine.textContent = `${items.length}${cursor ? '+' : ''} item${items.length === 1 ? '' : 's'}`;
    clear(more);
    if (cursor) {
      more.append(h('button', { type: 'button', class: 'btn btn-small', id: 'inbox-more', on: { click: safe(() => load(true)) } }, 'Load more'));
    }
  }

  async function load(append = false) {
    if (!append) replace(list, h('li', {}, loading()));
    try {
      const params = { limit: 50 };
      for (const k of FILTERS) params[k] = state[k];
      if (append) params.cursor = cursor;
      const page = await api.get(`/builds/${id}/feedback${api.qs(params)}`);
      if (!ctx.isCurrent()) return;
      items = append ? items.concat(page.items || []) : (page.items || []);
      cursor = page.next_cursor || null;
      drawList();
      if (!append && selected && !detail) select_(selected, false);
    } catch (err) {
      replace(list, h('li', {}, errorBox(err, () => load())));
    }
  }

  function select_(fid, focusPane) {
    selected = fid;
    syncUrl();
    for (const b of list.querySelectorAll('.inbox-item')) {
      if (Number(b.dataset.id) === fid) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
    if (detail) detail.destroy();
    detail = feedbackDetail(fid, ctx.user, {
      onChange: (fb) => {
        const i = items.findIndex((x) => x.id === fid);
        if (i >= 0 && fb && fb.status) {
          items[i] = { ...items[i], ...fb };
          const li = list.children[i];
          if (li) li.replaceWith(itemButton(items[i]));
        }
      },
    });
    layout.classList.add('has-detail');
    replace(pane, h('button', { type: 'button', class: 'btn btn-small btn-ghost back-to-list', on: { click: closeDetail } }, '← Back to the list'), detail.el);
    if (focusPane && window.matchMedia('(max-width: 899px)').matches) pane.scrollIntoView({ block: 'start' });
  }

  function closeDetail() {
    layout.classList.remove('has-detail');
    const btn = list.querySelector(`[data-id="${selected}"]`);
    if (btn) btn.focus();
  }

  // Keyboard: ↑/↓ or j/k move through the list, Enter opens, / searches.
  list.addEventListener('keydown', (e) => {
    const btns = [...list.querySelectorAll('.inbox-item')];
    const i = btns.indexOf(document.activeElement);
    let next = null;
    if (e.key === 'ArrowDown' || e.key === 'j') next = btns[Math.min(btns.length - 1, i + 1)];
    else if (e.key === 'ArrowUp' || e.key === 'k') next = btns[Math.max(0, i - 1)];
    else if (e.key === 'Home') next = btns[0];
    else if (e.key === 'End') next = btns[btns.length - 1];
    if (next) {
      e.preventDefault();
      next.focus();
      select_(Number(next.dataset.id), false);
    }
  });
  const onKey = (e) => {
    if (e.key === '/' && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
      e.preventDefault();
      q.focus();
    }
  };
  document.addEventListener('keydown', onKey);

  const onFilter = () => {
    state.kind = kind.value;
    state.severity = severity.value;
    state.status = status.value;
    state.change_id = change.value;
    state.q = q.value.trim();
    syncUrl();
    load();
  };
  const onSearch = debounce(onFilter, 300);
  for (const s of [kind, severity, status, change]) s.addEventListener('change', onFilter);
  q.addEventListener('input', onSearch);

  exportBtn.addEventListener('click', safe(async () => {
    exportBtn.disabled = true;
    exportStatus.textContent = 'Preparing CSV…';
    try {
      await api.download(`/builds/${id}/feedback.csv`, `playgate-build-${build.version}-feedback.csv`.replace(/[^\w.-]+/g, '_'));
      exportStatus.textContent = 'CSV downloaded';
    } catch (err) {
      exportStatus.textContent = '';
      toast(err.message, 'error');
    } finally {
      exportBtn.disabled = false;
    }
  }));

  ctx.onCleanup(() => {
    document.removeEventListener('keydown', onKey);
    onSearch.cancel();
    if (detail) detail.destroy();
  });

  replace(root, head,
    h('form', { class: 'filters', id: 'inbox-filters', role: 'search', on: { submit: (e) => { e.preventDefault(); onFilter(); } } },
      field('Search', q), field('Kind', kind), field('Severity', severity), field('Status', status), field('Change', change),
      h('div', { class: 'filters-actions' }, exportBtn, exportStatus)),
    h('p', { class: 'muted small kbd-hint' }, 'Keys: ↑ ↓ (or j k) move through the list, / searches.'),
    layout);
  if (!selected) replace(pane, h('p', { class: 'muted pane-empty' }, 'Select an item to read it, triage it and reply.'));
  await load();
}
