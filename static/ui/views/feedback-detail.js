// One feedback item: text, screenshots (click to enlarge), the conversation,
// and for staff the triage actions. Used by the inbox and /feedback/{id}.

import * as api from '../api.js';
import { h, replace, clear, badge, fmtDate, fmtRel, loading, errorBox, safe, toast, STATUS_LABELS, showFormError, field } from '../dom.js';
import { markSeen } from './my-feedback.js';

const STAFF_ROLES = ['admin', 'release_manager', 'product_owner'];
const TRIAGE = [['acknowledged', 'Acknowledge'], ['in_progress', 'In progress'], ['resolved', 'Resolved'], ['wont_fix', "Won't fix"], ['new', 'Back to new']];

export function kindBadge(fb) {
  return [badge('kind', fb.kind), fb.severity ? badge('severity', fb.severity) : null];
}

export function statusBadge(status) {
  return badge('status', status, STATUS_LABELS);
}

// Returns {el, destroy}. onChange(fb) runs after a triage action or reply.
export function feedbackDetail(id, user, { onChange, headingLevel = 'h2' } = {}) {
  const el = h('article', { class: 'fb-detail', 'data-testid': 'feedback-detail', 'aria-live': 'polite' }, loading());
  const urls = [];
  let destroyed = false;
  const staff = STAFF_ROLES.includes(user.role);

  async function load() {
    let fb;
    let changes = [];
    let build = null;
    try {
      fb = await api.get(`/feedback/${id}`);
      [changes, build] = await Promise.all([
        api.all(`/builds/${fb.build_id}/changes`).catch(() => []),
        api.get(`/builds/${fb.build_id}`).catch(() => null),
      ]);
    } catch (err) {
      if (!destroyed) replace(el, errorBox(err, load));
      return;
    }
    if (destroyed) return;
    if (!staff) markSeen(fb);
    draw(fb, changes, build);
  }

  function draw(fb, changes, build) {
    const change = fb.change_id ? changes.find((c) => c.id === fb.change_id) : null;
    const plat = fb.platform || {};
    const platText = [plat.os, plat.device, plat.client_version && `version ${plat.client_version}`].filter(Boolean).join(' · ');
    const parts = [
      h('header', {},
        h(headingLevel, { class: 'fb-title', 'data-testid': 'fb-detail-title' }, fb.title),
        h('div', { class: 'badges' }, h('span', { class: 'muted' }, `#${fb.id}`), kindBadge(fb), h('span', { 'data-testid': 'fb-detail-status' }, statusBadge(fb.status)),
          fb.duplicate_of ? h('span', { class: 'muted small' }, ` duplicate of #${fb.duplicate_of}`) : null)),
      h('dl', { class: 'meta' },
        h('dt', {}, 'From'), h('dd', {}, fb.tester_name || `Tester ${fb.tester_id}`),
        h('dt', {}, 'Sent'), h('dd', {}, h('time', { datetime: fb.created_at, title: fmtDate(fb.created_at) }, fmtRel(fb.created_at))),
        h('dt', {}, 'Build'), h('dd', {}, h('a', { href: staff ? `/builds/${fb.build_id}/report` : `/builds/${fb.build_id}` }, build ? `Build ${build.version}` : `Build #${fb.build_id}`)),
        change ? [h('dt', {}, 'Change'), h('dd', {}, h('code', {}, change.key), ' ', change.title)] : null,
        platText ? [h('dt', {}, 'Platform'), h('dd', {}, platText)] : null),
      fb.body ? h('div', { class: 'pre fb-body', 'data-testid': 'fb-detail-body' }, fb.body) : h('p', { class: 'muted' }, 'No details given.'),
    ];
    const atts = fb.attachments || [];
    if (atts.length) {
      const gallery = h('ul', { class: 'thumbs', 'data-testid': 'fb-attachments' });
      parts.push(h('section', {}, h('h3', {}, 'Screenshots'), gallery));
      for (const a of atts) {
        const img = h('img', { alt: `Screenshot ${a.id} (${a.width}×${a.height})`, 'data-testid': `attachment-${a.id}` });
        const btn = h('button', { type: 'button', class: 'thumb-btn', 'aria-label': `Enlarge screenshot ${a.id}` }, img);
        gallery.appendChild(h('li', { class: 'thumb' }, btn));
        api.blob(`/attachments/${a.id}`).then((b) => {
          if (destroyed) return;
          const u = URL.createObjectURL(b);
          urls.push(u);
          img.src = u;
          btn.addEventListener('click', () => lightbox(u, img.alt));
        }).catch((err) => {
          btn.replaceWith(h('span', { class: 'error-box small' }, `Could not load: ${err.message}`));
        });
      }
    }
    if (staff) parts.push(triage(fb));
    parts.push(conversation(fb));
    replace(el, parts);
  }

  function triage(fb) {
    const dupInput = h('input', { type: 'number', min: '1', name: 'duplicate_of', id: `dup-${fb.id}`, inputmode: 'numeric', placeholder: 'e.g. 12', value: fb.duplicate_of || '' });
    const doPatch = async (body, okMsg) => {
      try {
        const updated = await api.patch(`/feedback/${fb.id}`, body);
        toast(okMsg, 'ok');
        await load();
        if (onChange) onChange(updated || { ...fb, ...body });
      } catch (err) {
        toast(err.message, 'error');
      }
    };
    const dupForm = h('form', { class: 'inline-form', 'data-testid': 'dup-form' },
      field('Duplicate of #', dupInput),
      h('button', { type: 'submit', class: 'btn btn-small', 'data-testid': 'mark-duplicate' }, 'Mark duplicate'));
    dupForm.addEventListener('submit', safe(async (e) => {
      e.preventDefault();
      const n = Number(dupInput.value);
      if (!n || n === fb.id) {
        showFormError(dupForm, { message: 'Give the number of the original item (not this one).' });
        return;
      }
      await doPatch({ status: 'duplicate', duplicate_of: n }, `Marked as duplicate of #${n}`);
    }));
    return h('section', { class: 'triage', 'aria-label': 'Triage' },
      h('h3', {}, 'Triage'),
      h('div', { class: 'btn-row', role: 'group', 'aria-label': 'Set status' },
        TRIAGE.filter(([st]) => st !== fb.status).map(([st, text]) => h('button', {
          type: 'button',
          class: 'btn btn-small',
          'data-testid': `triage-${st}`,
          on: { click: safe(() => doPatch({ status: st }, `Status: ${STATUS_LABELS[st]}`)) },
        }, text))),
      dupForm);
  }

  function conversation(fb) {
    const comments = fb.comments || [];
    const list = comments.length
      ? h('ol', { class: 'comments', 'data-testid': 'comments' }, comments.map((c) => h('li', { class: ['comment', c.staff && 'staff'], 'data-testid': `comment-${c.id}` },
        h('div', { class: 'comment-head' }, h('strong', {}, c.author_name || `User ${c.author_id}`), c.staff ? h('span', { class: 'badge badge-staff' }, 'Team') : null,
          h('time', { class: 'muted small', datetime: c.created_at, title: fmtDate(c.created_at) }, fmtRel(c.created_at))),
        h('p', { class: 'pre' }, c.body))))
      : h('p', { class: 'muted', 'data-testid': 'no-comments' }, staff ? 'No replies yet.' : 'No replies from the team yet.');
    const text = h('textarea', { name: 'body', rows: '3', maxlength: '10000', id: `reply-${fb.id}`, 'data-testid': 'reply-body', required: true });
    const btn = h('button', { type: 'submit', class: 'btn btn-primary btn-small', 'data-testid': 'reply-send' }, staff ? 'Reply to the tester' : 'Send reply');
    const form = h('form', { class: 'form reply', 'data-testid': 'reply-form' }, field(staff ? 'Reply (the tester sees it)' : 'Add a reply', text), btn);
    form.addEventListener('submit', safe(async (e) => {
      e.preventDefault();
      if (!text.value.trim()) {
        showFormError(form, { message: 'Write something first.' });
        return;
      }
      btn.disabled = true;
      try {
        await api.post(`/feedback/${fb.id}/comments`, { body: text.value });
        toast('Reply sent', 'ok');
        text.value = '';
        await load();
        if (onChange) onChange(fb);
      } catch (err) {
        showFormError(form, err);
      } finally {
        btn.disabled = false;
      }
    }));
    return h('section', { class: 'conversation' }, h('h3', {}, 'Conversation'), list, form);
  }

  load();
  return {
    el,
    reload: load,
    destroy() {
      destroyed = true;
      for (const u of urls) URL.revokeObjectURL(u);
      clear(el);
    },
  };
}

export function lightbox(url, alt) {
  const img = h('img', { src: url, alt: alt || 'Screenshot' });
  const close = h('button', { type: 'button', class: 'btn btn-small lightbox-close', 'data-testid': 'lightbox-close' }, 'Close');
  const dlg = h('dialog', { class: 'lightbox', 'data-testid': 'lightbox', 'aria-label': alt || 'Screenshot' }, close, img);
  const done = () => {
    dlg.close();
    dlg.remove();
  };
  close.addEventListener('click', done);
  dlg.addEventListener('click', (e) => { if (e.target === dlg) done(); });
  dlg.addEventListener('cancel', (e) => { e.preventDefault(); done(); });
  document.body.appendChild(dlg);
  dlg.showModal();
  close.focus();
}
