// Redeem an invite: /invite#<token>. The token lives in the fragment, so it
// never reaches server logs; it is sent only in the redeem POST body.

import * as api from '../api.js';
import { h, replace, field, showFormError, setTitle, errorBox } from '../dom.js';

export async function render(root, ctx) {
  setTitle('Accept your invite');
  const token = decodeURIComponent(location.hash.replace(/^#/, '')).trim();
  if (!token) {
    replace(root, h('div', { class: 'center' }, h('div', { class: 'card narrow', id: 'invite-missing' },
      h('h1', {}, 'This invite link is incomplete'),
      h('p', {}, 'The link should end with a long code after a “#”. Copy the whole link from your invitation and open it again.'),
      h('p', {}, h('a', { href: '/login' }, 'Sign in instead')))));
    return;
  }
  let existing = false;
  const name = h('input', { type: 'text', name: 'name', id: 'invite-name', autocomplete: 'name', maxlength: '100' });
  const password = h('input', { type: 'password', name: 'password', id: 'invite-password', autocomplete: 'new-password', minlength: '10', required: true });
  const nameField = field('Your name', name, 'Shown to the team next to your feedback.');
  const pwField = field('Choose a password', password, 'At least 10 characters.');
  const title = h('h1', {}, 'You are invited to playtest');
  const intro = h('p', {}, 'Create your tester account to see the build, vote on its changes and send feedback.');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'invite-submit' }, 'Accept invite');
  const form = h('form', { class: 'card form narrow', id: 'invite-form', novalidate: true }, title, intro, nameField, pwField, submit);

  function switchToExisting() {
    existing = true;
    nameField.hidden = true;
    title.textContent = 'This email has an account';
    intro.textContent = 'This email already has a Playgate account: enter its password to add this build to it.';
    pwField.querySelector('label').textContent = 'Your account password';
    password.setAttribute('autocomplete', 'current-password');
    password.value = '';
    submit.textContent = 'Sign in and accept';
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!existing && password.value.length < 10) {
      showFormError(form, { message: 'Choose a password of at least 10 characters.', fields: { password: 'at least 10 characters' } });
      return;
    }
    if (!password.value) {
      showFormError(form, { message: 'Enter your password.' });
      return;
    }
    submit.disabled = true;
    try {
      const res = await api.redeem(token, existing ? '' : name.value.trim(), password.value);
      // The token is spent: drop it from the address bar and history.
      ctx.navigate(res.build_id ? `/builds/${res.build_id}` : '/', { replace: true });
    } catch (err) {
      submit.disabled = false;
      if (err.status === 401) {
        const wasExisting = existing;
        switchToExisting();
        showFormError(form, { message: wasExisting ? 'That password is not right for this account: try again.' : 'This email has an account: enter its password.' });
        password.focus();
      } else if (err.status === 410) {
        replace(root, h('div', { class: 'center' }, h('div', { class: 'card narrow', id: 'invite-gone' },
          h('h1', {}, 'This invite can no longer be used'),
          h('p', {}, 'It was already accepted, it expired or it was withdrawn. Ask the team for a new invite, or sign in if you already accepted it.'),
          errorBox(err),
          h('p', {}, h('a', { href: '/login', class: 'btn' }, 'Sign in')))));
      } else if (err.status === 404) {
        replace(root, h('div', { class: 'center' }, h('div', { class: 'card narrow', id: 'invite-unknown' },
          h('h1', {}, 'This invite link is not valid'),
          h('p', {}, 'Check that you copied the whole link from your invitation.'),
          errorBox(err))));
      } else {
        showFormError(form, err);
      }
    }
  });
  replace(root, h('div', { class: 'center' }, form));
  name.focus();
}
