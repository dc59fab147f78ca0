// Your account: who you are, and changing your password.

import * as api from '../api.js';
import { h, replace, field, showFormError, toast, setTitle, ROLE_LABELS } from '../dom.js';

export async function render(root) {
  setTitle('Your account');
  const u = api.user();
  const current = h('input', { type: 'password', id: 'pw-current', autocomplete: 'current-password', required: true });
  const next = h('input', { type: 'password', id: 'pw-new', autocomplete: 'new-password', minlength: 10, required: true });
  const again = h('input', { type: 'password', id: 'pw-again', autocomplete: 'new-password', minlength: 10, required: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'pw-submit' }, 'Change password');
  const form = h('form', { class: 'card form narrow', id: 'password-form', novalidate: true },
    h('h2', {}, 'Change your password'),
    field('Current password', current),
    field('New password', next, 'At least 10 characters. Your other sessions will be signed out.'),
    field('New password again', again),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (next.value !== again.value) {
      showFormError(form, { message: 'The two new passwords differ.' });
      again.select();
      return;
    }
    submit.disabled = true;
    try {
      await api.post('/me/password', { current_password: current.value, new_password: next.value });
      form.reset();
      toast('Password changed');
    } catch (err) {
      showFormError(form, err);
    } finally {
      submit.disabled = false;
    }
  });
  replace(root,
    h('h1', {}, 'Your account'),
    h('div', { class: 'card narrow' },
      h('p', {}, h('strong', {}, u.name || u.email)),
      h('p', { class: 'muted' }, u.email, ' · ', ROLE_LABELS[u.role] || u.role)),
    form);
}
