// Home: a tester's granted builds, or every build for staff.

import * as api from '../api.js';
import { h, replace, empty, fmtDate, setTitle } from '../dom.js';
import { accessPanel, closingLine, stageBadge, productsById, isClosed } from './common.js';

export async function renderTester(root, ctx) {
  setTitle('My builds');
  let builds = await api.all('/builds');
  // The list may leave out access details: read each build for them.
  builds = await Promise.all(builds.map((b) => (b.access ? b : api.get(`/builds/${b.id}`).catch(() => b))));
  if (!ctx.isCurrent()) return;
  builds.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  const cards = builds.map((b) => h('article', { class: ['card', 'build-card', isClosed(b) && 'is-closed'], 'data-testid': `build-card-${b.id}` },
    h('header', { class: 'title-row' },
      h('h2', {}, h('a', { href: `/builds/${b.id}` }, `Build ${b.version}`)),
      closingLine(b)),
    b.notes ? h('p', { class: 'pre notes' }, b.notes) : null,
    accessPanel(b),
    h('div', { class: 'actions' }, h('a', { href: `/builds/${b.id}`, class: 'btn btn-primary' }, isClosed(b) ? 'See changes' : 'Vote and send feedback'))));
  replace(root,
    h('h1', {}, 'My builds'),
    builds.length ? h('div', { class: 'grid', id: 'my-builds' }, cards)
      : empty('You have no builds to test yet. When the team invites you, open the invite link and the build shows up here.'));
}

export async function renderStaff(root, ctx) {
  setTitle('Builds');
  const [builds, products] = await Promise.all([api.all('/builds'), productsById()]);
  if (!ctx.isCurrent()) return;
  const manager = ['admin', 'release_manager'].includes(ctx.user.role);
  const groups = new Map();
  for (const b of builds) {
    if (!groups.has(b.product_id)) groups.set(b.product_id, []);
    groups.get(b.product_id).push(b);
  }
  const sections = [...groups.entries()].map(([pid, list]) => {
    const p = products.get(pid);
    list.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    return h('section', { class: 'card' },
      h('h2', {}, p ? h('a', { href: `/products/${pid}` }, p.name) : `Product ${pid}`),
      h('ul', { class: 'rows' }, list.map((b) => h('li', { class: 'row', 'data-testid': `build-row-${b.id}` },
        h('div', { class: 'row-main' },
          h('a', { href: `/builds/${b.id}/report`, class: 'row-title' }, `Build ${b.version}`), ' ', stageBadge(b.stage),
          h('div', { class: 'muted small' }, `Created ${fmtDate(b.created_at)} · `, closingLine(b))),
        h('div', { class: 'row-actions' },
          h('a', { href: `/builds/${b.id}/report`, class: 'btn btn-small' }, 'Report'),
          h('a', { href: `/builds/${b.id}/inbox`, class: 'btn btn-small' }, 'Inbox'),
          h('a', { href: `/builds/${b.id}/invites`, class: 'btn btn-small' }, 'Invites'),
          manager ? h('a', { href: `/builds/${b.id}/board`, class: 'btn btn-small' }, 'Release board') : null)))));
  });
  replace(root,
    h('div', { class: 'title-row' }, h('h1', {}, 'Builds'), manager ? h('a', { href: '/products', class: 'btn' }, 'Products and new builds') : null),
    sections.length ? h('div', { class: 'stack', id: 'staff-builds' }, sections)
      : empty(manager ? 'No builds yet. Create a product, then its first build.' : 'No builds yet.',
        manager ? h('a', { href: '/products', class: 'btn btn-primary' }, 'Create a product') : null));
}
