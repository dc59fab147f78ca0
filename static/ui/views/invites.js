// Invites and granted testers of a build.

import * as api from '../api.js';
import { h, replace, empty, fmtDate, fmtRel, setTitle, field, showFormError, badge, copyButton, confirmDialog, toast, safe, errorBox, loading } from '../dom.js';
import { buildHeader } from './common.js';

export async function render(root, ctx) {
  const id = Number(ctx.params[0]);
  const build = await api.get(`/builds/${id}`);
  if (!ctx.isCurrent()) return;
  setTitle(`Invites · Build ${build.version}`);
  const head = await buildHeader(build, 'invites', ctx.user);

  const email = h('input', { type: 'email', name: 'email', id: 'invite-email', required: true, autocomplete: 'off' });
  const hours = h('input', { type: 'number', name: 'expires_in_hours', id: 'invite-hours', min: '1', max: '2160', value: '72' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'invite-create' }, 'Create invite');
  const created = h('div', { id: 'invite-created', 'aria-live': 'polite' });
  const form = h('form', { class: 'form inline-form', id: 'invite-form', novalidate: true },
    field('Tester email', email), field('Valid for (hours)', hours), submit);
  const invitesBox = h('div', { id: 'invites-list' }, loading());
  const testersBox = h('div', { id: 'testers-list' }, loading());

  async function loadInvites() {
    try {
      const items = await api.all(`/builds/${id}/invites`);
      if (!ctx.isCurrent()) return;
      items.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
      replace(invitesBox, items.length
        ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
          h('thead', {}, h('tr', {}, ['Email', 'Status', 'Expires', 'Created', 'Accepted', ''].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, items.map((inv) => h('tr', { 'data-testid': `invite-row-${inv.id}` },
            h('td', {}, inv.email),
            h('td', { 'data-testid': `invite-status-${inv.id}` }, badge('invite', inv.status)),
            h('td', {}, fmtDate(inv.expires_at)),
            h('td', {}, fmtDate(inv.created_at)),
            h('td', {}, inv.redeemed_at ? fmtDate(inv.redeemed_at) : '—'),
            h('td', {}, inv.status === 'pending'
              ? h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-testid': `invite-revoke-${inv.id}`, on: { click: safe(() => revoke(inv)) } }, 'Revoke')
              : null))))))
        : empty('No invites yet.'));
    } catch (err) {
      replace(invitesBox, errorBox(err, loadInvites));
    }
  }

  async function revoke(inv) {
    if (!(await confirmDialog('Revoke this invite?', `The link sent to ${inv.email} stops working at once.`, 'Revoke invite'))) return;
    try {
      await api.del(`/invites/${inv.id}`);
      toast('Invite revoked', 'ok');
    } catch (err) {
      toast(err.message, 'error');
    }
    await loadInvites();
  }

  async function loadTesters() {
    try {
      const items = await api.all(`/builds/${id}/testers`);
      if (!ctx.isCurrent()) return;
      replace(testersBox, items.length
        ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
          h('thead', {}, h('tr', {}, ['Tester', 'Granted', 'Feedback', 'Votes', 'Last active', ''].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, items.map((t) => h('tr', { 'data-testid': `tester-row-${t.user_id}` },
            h('td', {}, h('strong', {}, t.name || '—'), h('br'), h('span', { class: 'muted small' }, t.email)),
            h('td', {}, fmtDate(t.granted_at)),
            h('td', {}, String(t.feedback_count ?? 0)),
            h('td', {}, String(t.vote_count ?? 0)),
            h('td', {}, t.last_active_at ? fmtRel(t.last_active_at) : 'never'),
            h('td', {}, h('button', {
              type: 'button',
              class: 'btn btn-small btn-danger',
              'data-testid': `tester-revoke-${t.user_id}`,
              on: {
                click: safe(async () => {
                  if (!(await confirmDialog('Revoke access?', `${t.name || t.email} loses access to this build at once. Their feedback and votes stay.`, 'Revoke access'))) return;
                  try {
                    await api.del(`/builds/${id}/testers/${t.user_id}`);
                    toast('Access revoked', 'ok');
                  } catch (err) {
                    toast(err.message, 'error');
                  }
                  await loadTesters();
                }),
              },
            }, 'Revoke access')))))))
        : empty('No testers yet: create an invite and send the link.'));
    } catch (err) {
      replace(testersBox, errorBox(err, loadTesters));
    }
  }

  form.addEventListener('submit', safe(async (e) => {
    e.preventDefault();
    showFormError(form, null);
    if (!email.value.trim()) {
      showFormError(form, { message: 'Enter the tester’s email.', fields: { email: 'required' } });
      return;
    }
    const body = { email: email.value.trim() };
    if (hours.value) body.expires_in_hours = Number(hours.value);
    submit.disabled = true;
    try {
      const inv = await api.post(`/builds/${id}/invites`, body);
      const link = `${location.origin}/invite#${inv.token}`;
      const linkInput = h('input', { type: 'text', readonly: 'readonly', value: link, id: 'invite-link', 'aria-label': 'Invite link', class: 'mono' });
      linkInput.addEventListener('focus', () => linkInput.select());
      replace(created, h('div', { class: 'success', role: 'status' },
        h('p', {}, h('strong', {}, `Invite for ${inv.email} created.`), ' Copy the link now: it is shown only once. It expires ', fmtDate(inv.expires_at), '.'),
        h('div', { class: 'copy-row' }, linkInput, copyButton(link, 'Copy invite link', { id: 'invite-copy' }))));
      email.value = '';
      await loadInvites();
    } catch (err) {
      showFormError(form, err);
    } finally {
      submit.disabled = false;
    }
  }));

  replace(root, head,
    h('section', { class: 'card', 'aria-labelledby': 'inv-new' }, h('h2', { id: 'inv-new' }, 'Invite a tester'), form, created),
    h('section', { class: 'card', 'aria-labelledby': 'inv-list' }, h('h2', { id: 'inv-list' }, 'Invites'), invitesBox),
    h('section', { class: 'card', 'aria-labelledby': 'testers-h' }, h('h2', { id: 'testers-h' }, 'Testers with access'), testersBox));
  await Promise.all([loadInvites(), loadTesters()]);
}
