// A tester's own feedback across their builds, with unread staff replies.

import * as api from '../api.js';
import { h, replace, empty, fmtRel, fmtDate, setTitle, select } from '../dom.js';
import { kindBadge, statusBadge } from './feedback-detail.js';

let unread = 0;

function seenKey() {
  const u = api.user();
  return `pg.seen.${u ? u.id : 0}`;
}

function seenMap() {
  try {
    return JSON.parse(localStorage.getItem(seenKey()) || '{}') || {};
  } catch (_) {
    return {};
  }
}

export function isUnread(fb, seen = seenMap()) {
  if (!fb.last_staff_reply_at) return false;
  const last = seen[fb.id];
  return !last || new Date(last).getTime() < new Date(fb.last_staff_reply_at).getTime();
}

export function markSeen(fb) {
  if (!fb || !fb.last_staff_reply_at) return;
  const seen = seenMap();
  if (!isUnread(fb, seen)) return;
  seen[fb.id] = fb.last_staff_reply_at;
  try {
    localStorage.setItem(seenKey(), JSON.stringify(seen));
  } catch (_) { /* ignore */ }
  unread = Math.max(0, unread - 1);
  const b = document.getElementById('nav-unread');
  if (b) b.replaceWith(unreadBadge());
}

export function unreadBadge() {
  return unread > 0
    ? h('span', { class: 'count-badge', id: 'nav-unread', 'aria-label': `${unread} unread replies` }, String(unread))
    : h('span', { id: 'nav-unread', hidden: true });
}

async function myFeedback() {
  const builds = await api.all('/builds');
  const lists = await Promise.all(builds.map((b) => api.all(`/builds/${b.id}/feedback`).then((items) => items.map((f) => ({ ...f, build: b }))).catch(() => [])));
  return { builds, items: lists.flat().sort((a, b) => String(b.created_at).localeCompare(String(a.created_at))) };
}

export async function refreshUnread() {
  const { items } = await myFeedback();
  const seen = seenMap();
  unread = items.filter((f) => isUnread(f, seen)).length;
}

export async function render(root, ctx) {
  setTitle('My feedback');
  const { builds, items } = await myFeedback();
  if (!ctx.isCurrent()) return;
  const seen = seenMap();
  unread = items.filter((f) => isUnread(f, seen)).length;
  ctx.refreshNav();
  const buildFilter = select('build', [['', 'All builds'], ...builds.map((b) => [b.id, `Build ${b.version}`])], ctx.query.get('build') || '', { id: 'my-fb-build' });
  const list = h('ul', { class: 'rows', id: 'my-feedback' });
  const draw = () => {
    const bid = buildFilter.value;
    const shown = items.filter((f) => !bid || String(f.build_id) === bid);
    if (!shown.length) {
      replace(list, h('li', {}, empty('No feedback yet. Open a build to report a bug or share an idea.')));
      return;
    }
    replace(list, shown.map((f) => {
      const fresh = isUnread(f, seen);
      return h('li', { class: ['row', fresh && 'unread'], 'data-testid': `my-fb-${f.id}` },
        h('div', { class: 'row-main' },
          h('a', { href: `/feedback/${f.id}`, class: 'row-title' }, f.title),
          fresh ? h('span', { class: 'badge badge-unread', 'data-testid': `unread-${f.id}` }, 'New reply') : null,
          h('div', { class: 'muted small' }, `Build ${f.build.version} · `, h('time', { datetime: f.created_at, title: fmtDate(f.created_at) }, fmtRel(f.created_at)),
            f.comment_count ? ` · ${f.comment_count} ${f.comment_count === 1 ? 'reply' : 'replies'}` : '')),
        h('div', { class: 'badges' }, kindBadge(f), statusBadge(f.status)));
    }));
  };
  buildFilter.addEventListener('change', () => {
    const q = buildFilter.value ? `?build=${buildFilter.value}` : '';
    history.replaceState(null, '', '/feedback' + q);
    draw();
  });
  draw();
  replace(root,
    h('div', { class: 'title-row' }, h('h1', {}, 'My feedback'),
      h('div', { class: 'field inline' }, h('label', { for: 'my-fb-build' }, 'Build'), buildFilter)),
    h('section', { class: 'card' }, list));
}
