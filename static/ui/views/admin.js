// Admin pages: users, and the audit log.

import * as api from '../api.js';
import { h, replace, empty, setTitle, field, select, showFormError, toast, safe, fmtDate, errorBox, loading, confirmDialog, ROLE_LABELS } from '../dom.js';

const ROLES = Object.entries(ROLE_LABELS);

export async function renderUsers(root, ctx) {
  setTitle('Users');
  const box = h('div', { id: 'users' }, loading());

  async function load() {
    try {
      const users = await api.all('/users');
      if (!ctx.isCurrent()) return;
      users.sort((a, b) => a.email.localeCompare(b.email));
      replace(box, users.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Name', 'Email', 'Role', 'Status', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, users.map(userRow)))) : empty('No users.'));
    } catch (err) {
      replace(box, errorBox(err, load));
    }
  }

  function userRow(u) {
    const self = u.id === ctx.user.id;
    const role = select('role', ROLES, u.role, { 'aria-label': `Role of ${u.email}`, 'data-testid': `user-role-${u.id}`, disabled: self });
    role.addEventListener('change', safe(async () => {
      try {
        await api.patch(`/users/${u.id}`, { role: role.value });
        toast(`${u.email} is now ${ROLE_LABELS[role.value]}`, 'ok');
        u.role = role.value;
      } catch (err) {
        role.value = u.role;
        toast(err.message, 'error');
      }
    }));
    const toggle = h('button', { type: 'button', class: `btn btn-small ${u.disabled ? '' : 'btn-danger'}`, 'data-testid': `user-toggle-${u.id}`, disabled: self }, u.disabled ? 'Enable' : 'Disable');
    toggle.addEventListener('click', safe(async () => {
      if (!u.disabled && !(await confirmDialog(`Disable ${u.email}?`, 'They are signed out at once and can no longer sign in.', 'Disable'))) return;
      try {
        await api.patch(`/users/${u.id}`, { disabled: !u.disabled });
        toast(u.disabled ? 'User enabled' : 'User disabled', 'ok');
      } catch (err) {
        toast(err.message, 'error');
      }
      await load();
    }));
    return h('tr', { 'data-testid': `user-row-${u.id}`, class: u.disabled ? 'is-disabled' : '' },
      h('td', {}, u.name || '—', self ? h('span', { class: 'muted small' }, ' (you)') : null),
      h('td', {}, u.email),
      h('td', {}, role),
      h('td', {}, u.disabled ? h('span', { class: 'badge badge-disabled' }, 'Disabled') : h('span', { class: 'badge badge-active' }, 'Active')),
      h('td', {}, toggle));
  }

  const email = h('input', { type: 'email', name: 'email', id: 'u-email', required: true, autocomplete: 'off' });
  const name = h('input', { type: 'text', name: 'name', id: 'u-name', required: true, maxlength: '100' });
  const role = select('role', ROLES, 'product_owner', { id: 'u-role' });
  const password = h('input', { type: 'password', name: 'password', id: 'u-password', required: true, minlength: '10', autocomplete: 'new-password' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'u-create' }, 'Create user');
  const form = h('form', { class: 'form', id: 'user-form', novalidate: true },
    h('div', { class: 'row2' }, field('Email', email), field('Name', name), field('Role', role), field('Password', password, 'At least 10 characters; share it with them safely.')), submit);
  form.addEventListener('submit', safe(async (e) => {
    e.preventDefault();
    showFormError(form, null);
    if (password.value.length < 10) {
      showFormError(form, { message: 'The password needs at least 10 characters.', fields: { password: 'at least 10 characters' } });
      return;
    }
    submit.disabled = true;
    try {
      const u = await api.post('/users', { email: email.value.trim(), name: name.value.trim(), role: role.value, password: password.value });
      toast(`User ${u.email} created`, 'ok');
      email.value = name.value = password.value = '';
      await load();
    } catch (err) {
      showFormError(form, err);
    } finally {
      submit.disabled = false;
    }
  }));

  replace(root, h('h1', {}, 'Users'),
    h('section', { class: 'card' }, box),
    h('section', { class: 'card' }, h('h2', {}, 'New user'), form));
  await load();
}

export async function renderAudit(root, ctx) {
  setTitle('Audit log');
  const q = ctx.query;
  const subjectType = h('input', { type: 'text', name: 'subject_type', id: 'a-type', value: q.get('subject_type') || '', placeholder: 'e.g. build' });
  const subjectId = h('input', { type: 'number', name: 'subject_id', id: 'a-subject', value: q.get('subject_id') || '', min: '1' });
  const actorId = h('input', { type: 'number', name: 'actor_id', id: 'a-actor', value: q.get('actor_id') || '', min: '1' });
  const form = h('form', { class: 'filters', id: 'audit-filters', role: 'search' },
    field('Subject type', subjectType), field('Subject id', subjectId), field('Actor id', actorId),
    h('div', { class: 'filters-actions' }, h('button', { type: 'submit', class: 'btn' }, 'Filter')));
  const box = h('div', { id: 'audit' }, loading());
  let names = new Map();
  if (ctx.user.role === 'admin') {
    try {
      names = new Map((await api.all('/users')).map((u) => [u.id, u.name || u.email]));
    } catch (_) { /* ids are enough */ }
  }
  let items = [];
  let cursor = null;

  const draw = () => {
    replace(box, items.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ['When', 'Who', 'Action', 'Subject', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, items.map((ev) => h('tr', { 'data-testid': `audit-${ev.id}` },
        h('td', { class: 'nowrap' }, fmtDate(ev.at)),
        h('td', {}, ev.actor_id ? (names.get(ev.actor_id) || `#${ev.actor_id}`) : 'system'),
        h('td', {}, h('code', {}, ev.action)),
        h('td', {}, ev.subject_type ? `${ev.subject_type}${ev.subject_id ? ' #' + ev.subject_id : ''}` : '—'),
        h('td', { class: 'detail' }, typeof ev.detail === 'string' ? ev.detail : JSON.stringify(ev.detail))))))) : empty('No events match.'),
    cursor ? h('div', { class: 'more' }, h('button', { type: 'button', class: 'btn btn-small', id: 'audit-more', on: { click: safe(() => load(true)) } }, 'Load more')) : null);
  };

  async function load(append = false) {
    try {
      const params = { subject_type: subjectType.value.trim(), subject_id: subjectId.value, actor_id: actorId.value, limit: 100 };
      if (append) params.cursor = cursor;
      const page = await api.get('/audit' + api.qs(params));
      if (!ctx.isCurrent()) return;
      items = append ? items.concat(page.items || []) : (page.items || []);
      cursor = page.next_cursor || null;
      draw();
    } catch (err) {
      replace(box, errorBox(err, () => load()));
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    history.replaceState(null, '', '/audit' + api.qs({ subject_type: subjectType.value.trim(), subject_id: subjectId.value, actor_id: actorId.value }));
    load();
  });
  replace(root, h('h1', {}, 'Audit log'), form, h('section', { class: 'card' }, box));
  await load();
}
