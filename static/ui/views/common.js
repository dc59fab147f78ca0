// Pieces shared by several pages.

import * as api from '../api.js';
import { h, badge, copyButton, fmtDate, STAGE_LABELS, empty, safe, confirmDialog, toast, replace, loading, errorBox } from '../dom.js';

export function stageBadge(stage) {
  return badge('stage', stage, STAGE_LABELS);
}

export function isClosed(build) {
  return Boolean(build.closes_at) && new Date(build.closes_at).getTime() <= Date.now();
}

// The access details of a build with copy buttons.
export function accessPanel(build) {
  const a = build.access || {};
  const rows = [];
  const row = (key, labelText, value, node) => {
    if (!value) return;
    rows.push(h('div', { class: 'access-row', 'data-testid': `access-${key}` },
      h('dt', {}, labelText),
      h('dd', {}, node || h('code', {}, value), copyButton(value, `Copy ${labelText.toLowerCase()}`))));
  };
  let link = null;
  if (a.url) {
    let safeUrl = null;
    try {
      const u = new URL(a.url);
      if (u.protocol === 'http:' || u.protocol === 'https:') safeUrl = u.href;
    } catch (_) { /* not a URL: shown as text */ }
    link = safeUrl ? h('a', { href: safeUrl, target: '_blank', rel: 'noopener noreferrer', 'data-external': '' }, a.url) : h('code', {}, a.url);
  }
  row('url', 'Download / URL', a.url, link);
  row('server', 'Server', a.server);
  row('key', 'Key', a.key);
  const parts = [];
  if (rows.length) parts.push(h('dl', { class: 'access' }, rows));
  if (a.instructions) parts.push(h('div', { class: 'instructions', 'data-testid': 'access-instructions' }, h('h4', {}, 'Instructions'), h('p', { class: 'pre' }, a.instructions)));
  if (!parts.length) parts.push(h('p', { class: 'muted' }, 'No access details yet: the team will add them here.'));
  return h('section', { class: 'access-panel', 'aria-label': 'Access details' }, parts);
}

export function closingLine(build) {
  if (!build.closes_at) return h('span', { class: 'muted' }, 'Open, no closing date');
  const closed = isClosed(build);
  return h('span', { class: closed ? 'closed' : '' }, closed ? `Closed ${fmtDate(build.closes_at)}` : `Closes ${fmtDate(build.closes_at)}`);
}

const TABS = [
  ['report', 'Report', null],
  ['inbox', 'Feedback inbox', null],
  ['invites', 'Invites & testers', null],
  ['board', 'Release board', ['admin', 'release_manager']],
  ['settings', 'Settings & changes', ['admin', 'release_manager']],
];

let productCache = null;
export async function productsById() {
  if (!productCache) {
    productCache = api.all('/products').then((items) => new Map(items.map((p) => [p.id, p])));
    productCache.catch(() => { productCache = null; });
  }
  return productCache;
}
export function forgetProducts() {
  productCache = null;
}

// The header of every staff page about one build, with its tabs.
export async function buildHeader(build, active, user) {
  let product = null;
  try {
    product = (await productsById()).get(build.product_id) || null;
  } catch (_) { /* the header still works without the name */ }
  const tabs = TABS.filter(([, , roles]) => !roles || roles.includes(user.role));
  return h('header', { class: 'page-head' },
    h('p', { class: 'crumbs' }, h('a', { href: '/' }, 'Builds'), ' / ',
      product ? h('a', { href: `/products/${product.id}` }, product.name) : `Product ${build.product_id}`),
    h('div', { class: 'title-row' },
      h('h1', { id: 'build-title' }, `Build ${build.version}`),
      stageBadge(build.stage),
      closingLine(build)),
    h('nav', { class: 'tabs', 'aria-label': 'Build pages' },
      tabs.map(([key, text]) => h('a', {
        href: `/builds/${build.id}/${key}`,
        class: 'tab',
        id: `tab-${key}`,
        'aria-current': key === active ? 'page' : null,
      }, text))));
}

// Production history of a product with rollback.
export async function productHistory(productId, user, onChange) {
  const box = h('section', { class: 'card', id: 'production-history', 'aria-labelledby': 'ph-title' },
    h('h2', { id: 'ph-title' }, 'Production history'), loading());
  const load = async () => {
    try {
      const [product, builds] = await Promise.all([
        api.all('/products').then((ps) => ps.find((p) => p.id === productId)),
        api.all('/builds', { product_id: productId }),
      ]);
      const shipped = builds
        .filter((b) => b.product_id === productId && ['production', 'superseded', 'rolled_back'].includes(b.stage))
        .sort((a, b) => String(b.promoted_at || b.created_at).localeCompare(String(a.promoted_at || a.created_at)));
      const canRollback = ['admin', 'release_manager'].includes(user.role);
      const hasPrevious = shipped.some((b) => b.stage === 'superseded');
      const list = shipped.length
        ? h('ol', { class: 'history' }, shipped.map((b) => h('li', { class: b.id === (product && product.production_build_id) ? 'current' : '', 'data-testid': `history-${b.id}` },
          h('a', { href: `/builds/${b.id}/report` }, `Build ${b.version}`), ' ', stageBadge(b.stage),
          h('span', { class: 'muted' }, ` promoted ${fmtDate(b.promoted_at)}`),
          b.id === (product && product.production_build_id) ? h('strong', { class: 'live-tag' }, ' live now') : null)))
        : empty('Nothing has reached production yet.');
      const rollback = canRollback && product && product.production_build_id
        ? h('button', {
          type: 'button',
          class: 'btn btn-danger',
          id: 'rollback-btn',
          disabled: !hasPrevious,
          on: {
            click: safe(async () => {
              if (!(await confirmDialog('Roll back production?', `Production goes back to the previous build; the current one becomes “rolled back”.`, 'Roll back'))) return;
              try {
                await api.post(`/products/${productId}/rollback`);
                toast('Rolled back to the previous production build', 'ok');
              } catch (err) {
                toast(err.message, 'error');
              }
              await load();
              if (onChange) onChange();
            }),
          },
        }, 'Roll back production')
        : null;
      replace(box, h('h2', { id: 'ph-title' }, product ? `Production history of ${product.name}` : 'Production history'), list,
        rollback ? h('div', { class: 'actions' }, rollback,
          hasPrevious ? null : h('span', { class: 'muted small' }, 'There is no previous production build to go back to.')) : null);
    } catch (err) {
      replace(box, h('h2', { id: 'ph-title' }, 'Production history'), errorBox(err, load));
    }
  };
  await load();
  box.reload = load;
  return box;
}
