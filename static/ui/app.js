// Playgate web UI: the shell, the router and role-based navigation.

import * as api from './api.js';
import { h, replace, errorBox, loading, toast, ROLE_LABELS, setTitle } from './dom.js';
import * as login from './views/login.js';
import * as invite from './views/invite.js';
import * as home from './views/home.js';
import * as testerBuild from './views/tester-build.js';
import * as myFeedback from './views/my-feedback.js';
import * as feedbackPage from './views/feedback-page.js';
import * as report from './views/report.js';
import * as inbox from './views/inbox.js';
import * as invites from './views/invites.js';
import * as board from './views/board.js';
import * as settings from './views/build-settings.js';
import * as products from './views/products.js';
import * as admin from './views/admin.js';
import * as account from './views/account.js';

const STAFF = ['admin', 'release_manager', 'product_owner'];
const MANAGERS = ['admin', 'release_manager'];

const routes = [
  { re: /^\/login\/?$/, view: login.render, public: true },
  { re: /^\/invite\/?$/, view: invite.render, public: true },
  { re: /^\/$/, view: (root, ctx) => (ctx.user.role === 'tester' ? home.renderTester(root, ctx) : home.renderStaff(root, ctx)) },
  { re: /^\/builds\/(\d+)\/?$/, view: (root, ctx) => (ctx.user.role === 'tester' ? testerBuild.render(root, ctx) : ctx.navigate(`/builds/${ctx.params[0]}/report`, { replace: true })) },
  { re: /^\/builds\/(\d+)\/report$/, view: report.render, roles: STAFF },
  { re: /^\/builds\/(\d+)\/inbox$/, view: inbox.render, roles: STAFF },
  { re: /^\/builds\/(\d+)\/invites$/, view: invites.render, roles: STAFF },
  { re: /^\/builds\/(\d+)\/board$/, view: board.render, roles: MANAGERS },
  { re: /^\/builds\/(\d+)\/settings$/, view: settings.render, roles: MANAGERS },
  { re: /^\/feedback\/?$/, view: myFeedback.render, roles: ['tester'] },
  { re: /^\/feedback\/(\d+)$/, view: feedbackPage.render },
  { re: /^\/products\/?$/, view: products.renderList, roles: STAFF },
  { re: /^\/products\/(\d+)$/, view: products.renderOne, roles: STAFF },
  { re: /^\/users\/?$/, view: admin.renderUsers, roles: ['admin'] },
  { re: /^\/audit\/?$/, view: admin.renderAudit, roles: MANAGERS },
  { re: /^\/account\/?$/, view: account.render },
];

const main = document.getElementById('main');
let cleanups = [];
let renderSeq = 0;

function runCleanups() {
  const list = cleanups;
  cleanups = [];
  for (const fn of list) {
    try {
      fn();
    } catch (_) { /* ignore */ }
  }
}

export function navigate(path, opts = {}) {
  const cur = location.pathname + location.search + location.hash;
  if (path !== cur) {
    if (opts.replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
  }
  window.scrollTo(0, 0);
  render();
}

async function render() {
  const seq = ++renderSeq;
  runCleanups();
  const path = location.pathname;
  const user = api.user();
  let route = null;
  let params = [];
  for (const r of routes) {
    const m = r.re.exec(path);
    if (m) {
      route = r;
      params = m.slice(1);
      break;
    }
  }
  renderNav(path);
  const root = h('div', { class: 'page' });
  replace(main, root);
  if (!route) {
    setTitle('Not found');
    root.append(h('h1', {}, 'Page not found'), h('p', {}, 'There is nothing at this address. ', h('a', { href: '/' }, 'Go home')));
    return;
  }
  if (!route.public && !user) {
    const next = path + location.search;
    history.replaceState(null, '', '/login' + (next && next !== '/' ? '?next=' + encodeURIComponent(next) : ''));
    return render();
  }
  if (route.roles && !route.roles.includes(user.role)) {
    setTitle('Not available');
    root.append(h('h1', {}, 'Not available'), h('p', {}, `This page is not available to your role (${ROLE_LABELS[user.role] || user.role}). `, h('a', { href: '/' }, 'Go home')));
    return;
  }
  const ctx = {
    params,
    user,
    query: new URLSearchParams(location.search),
    navigate,
    onCleanup: (fn) => cleanups.push(fn),
    isCurrent: () => seq === renderSeq,
    refreshNav: () => renderNav(location.pathname),
  };
  root.append(loading());
  try {
    await route.view(root, ctx);
  } catch (err) {
    if (seq !== renderSeq) return;
    replace(root, h('h1', {}, 'Could not load this page'), errorBox(err, () => render()));
  }
}

function navItems(user) {
  if (!user) return [];
  switch (user.role) {
    case 'tester':
      return [['/', 'My builds', 'nav-builds'], ['/feedback', 'My feedback', 'nav-feedback']];
    case 'product_owner':
      return [['/', 'Builds', 'nav-builds'], ['/products', 'Products', 'nav-products']];
    case 'release_manager':
      return [['/', 'Builds', 'nav-builds'], ['/products', 'Products', 'nav-products'], ['/audit', 'Audit log', 'nav-audit']];
    default:
      return [['/', 'Builds', 'nav-builds'], ['/products', 'Products', 'nav-products'], ['/users', 'Users', 'nav-users'], ['/audit', 'Audit log', 'nav-audit']];
  }
}

function isActive(href, path) {
  if (href === '/') return path === '/' || (/^\/builds\//.test(path));
  return path === href || path.startsWith(href + '/');
}

function renderNav(path) {
  const user = api.user();
  const nav = document.getElementById('nav');
  const box = document.getElementById('userbox');
  replace(nav, navItems(user).map(([href, text, id]) => {
    const a = h('a', { href, id, class: 'nav-link' }, text);
    if (isActive(href, path)) a.setAttribute('aria-current', 'page');
    if (id === 'nav-feedback') a.append(myFeedback.unreadBadge());
    return a;
  }));
  if (!user) {
    replace(box, path.startsWith('/login') ? null : h('a', { href: '/login', class: 'btn btn-small' }, 'Sign in'));
    return;
  }
  replace(box,
    h('a', { class: 'who', id: 'whoami', href: '/account', title: `${user.email}: your account` },
      h('span', { class: 'who-name' }, user.name || user.email),
      h('span', { class: 'who-role' }, ROLE_LABELS[user.role] || user.role)),
    h('button', {
      type: 'button',
      class: 'btn btn-small btn-ghost',
      id: 'logout',
      on: {
        click: async () => {
          await api.logout();
          toast('Signed out');
          navigate('/login');
        },
      },
    }, 'Sign out'));
}

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download') || a.dataset.external !== undefined) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return; // in-page anchor
  e.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', () => render());

api.onAuthChange((u) => {
  if (u && u.role === 'tester') myFeedback.refreshUnread().then(() => renderNav(location.pathname)).catch(() => {});
  if (!u && !routes.some((r) => r.public && r.re.test(location.pathname))) render();
  else renderNav(location.pathname);
});

window.addEventListener('unhandledrejection', (e) => {
  // Last line of defence: tell the user too (the console still reports it).
  const r = e.reason;
  if (r && r.name === 'AbortError') return;
  toast((r && r.message) || String(r), 'error');
});

(async () => {
  await api.restore();
  render();
})();
