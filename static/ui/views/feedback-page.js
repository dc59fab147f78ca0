// /feedback/{id}: one feedback item on its own page.

import { h, replace, setTitle } from '../dom.js';
import { feedbackDetail } from './feedback-detail.js';

export async function render(root, ctx) {
  setTitle('Feedback');
  const id = Number(ctx.params[0]);
  const staff = ctx.user.role !== 'tester';
  const detail = feedbackDetail(id, ctx.user, { headingLevel: 'h1', onChange: () => ctx.refreshNav() });
  ctx.onCleanup(() => detail.destroy());
  replace(root,
    h('p', { class: 'crumbs' }, staff ? h('a', { href: '/' }, 'Builds') : h('a', { href: '/feedback' }, 'My feedback')),
    h('div', { class: 'card' }, detail.el));
}
