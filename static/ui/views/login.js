// Sign in.

import * as api from '../api.js';
import { h, replace, field, showFormError, setTitle } from '../dom.js';

function safeNext(next) {
  // Only same-site paths: never an absolute or protocol-relative URL.
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/login')) return '/';
  return next;
}

export async function render(root, ctx) {
  setTitle('Sign in');
  const next = safeNext(ctx.query.get('next'));
  if (api.user()) {
    ctx.navigate(next, { replace: true });
    return;
  }
  const email = h('input', { type: 'email', name: 'email', id: 'login-email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', id: 'login-password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'login-submit' }, 'Sign in');
  const form = h('form', { class: 'card form narrow', id: 'login-form', novalidate: true },
    h('h1', {}, 'Sign in to Playgate'),
    field('Email', email),
    field('Password', password),
    submit,
    h('p', { class: 'muted small' }, 'Invited to test a build? Open the invite link you were sent.'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!email.value || !password.value) {
      showFormError(form, { message: 'Enter your email and password.' });
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      await api.login(email.value.trim(), password.value);
      ctx.navigate(next, { replace: true });
    } catch (err) {
      showFormError(form, err);
      password.select();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
  replace(root, h('div', { class: 'center' }, form));
  email.focus();
}
