// A tester's build page: access details, keep/revert votes per change, and
// the feedback form with screenshots.

import * as api from '../api.js';
import { h, replace, clear, empty, field, select, showFormError, setTitle, toast, debounce, randomKey, safe } from '../dom.js';
import { accessPanel, closingLine, isClosed } from './common.js';

const MAX_FILE = 10 * 1024 * 1024;
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

export async function render(root, ctx) {
  const id = Number(ctx.params[0]);
  const [build, changes] = await Promise.all([api.get(`/builds/${id}`), api.all(`/builds/${id}/changes`)]);
  if (!ctx.isCurrent()) return;
  setTitle(`Build ${build.version}`);
  const closed = isClosed(build);

  const changeList = changes.length
    ? h('ul', { class: 'changes', id: 'changes' }, changes.map((c) => changeItem(c, closed)))
    : empty('This build lists no changes to vote on.');

  const form = feedbackForm(build, changes, closed, ctx);

  replace(root,
    h('header', { class: 'page-head' },
      h('p', { class: 'crumbs' }, h('a', { href: '/' }, 'My builds')),
      h('div', { class: 'title-row' }, h('h1', { id: 'build-title' }, `Build ${build.version}`), closingLine(build)),
      closed ? h('p', { class: 'notice', id: 'closed-notice' }, 'Testing of this build has closed: you can still read it, but no longer vote or send feedback.') : null,
      build.notes ? h('p', { class: 'pre notes' }, build.notes) : null),
    h('details', { class: 'card', open: true },
      h('summary', {}, h('h2', { class: 'inline' }, 'How to get the build')),
      accessPanel(build)),
    h('div', { class: 'two-col' },
      h('section', { class: 'card', 'aria-labelledby': 'changes-title' },
        h('h2', { id: 'changes-title' }, 'Changes in this build'),
        h('p', { class: 'muted small' }, 'Play with each change, then tell us: keep it, or revert it? You can change your mind until testing closes.'),
        changeList),
      h('section', { class: 'card', 'aria-labelledby': 'fb-title-h' },
        h('h2', { id: 'fb-title-h' }, 'Send feedback'),
        form,
        h('p', { class: 'small' }, h('a', { href: `/feedback?build=${id}` }, 'See my feedback on this build')))));
  const paste = form.pasteHandler;
  document.addEventListener('paste', paste);
  ctx.onCleanup(() => {
    document.removeEventListener('paste', paste);
    form.cleanup();
  });
}

function changeItem(c, closed) {
  let current = c.my_vote || null;
  const status = h('span', { class: 'vote-status muted small', 'aria-live': 'polite' });
  const keep = h('button', { type: 'button', class: 'toggle toggle-keep', 'data-testid': `vote-keep-${c.id}`, 'aria-pressed': String(current === 'keep'), disabled: closed }, 'Keep');
  const revert = h('button', { type: 'button', class: 'toggle toggle-revert', 'data-testid': `vote-revert-${c.id}`, 'aria-pressed': String(current === 'revert'), disabled: closed }, 'Revert');
  const show = () => {
    keep.setAttribute('aria-pressed', String(current === 'keep'));
    revert.setAttribute('aria-pressed', String(current === 'revert'));
    li.dataset.vote = current || '';
  };
  const cast = async (vote) => {
    if (vote === current) return;
    keep.disabled = revert.disabled = true;
    status.textContent = 'Saving…';
    try {
      const res = await api.put(`/changes/${c.id}/vote`, { vote });
      current = res && res.vote ? res.vote : vote;
      show();
      status.textContent = `Saved: ${current}`;
    } catch (err) {
      status.textContent = '';
      toast(err.message, 'error');
    } finally {
      keep.disabled = revert.disabled = false;
    }
  };
  keep.addEventListener('click', () => cast('keep'));
  revert.addEventListener('click', () => cast('revert'));
  const li = h('li', { class: 'change', 'data-testid': `change-${c.id}`, 'data-vote': current || '' },
    h('div', { class: 'change-text' },
      h('div', {}, h('code', { class: 'key' }, c.key), ' ', h('strong', {}, c.title), c.area ? h('span', { class: 'muted small' }, ` · ${c.area}`) : null),
      c.description ? h('p', { class: 'pre small' }, c.description) : null),
    h('div', { class: 'vote', role: 'group', 'aria-label': `Your vote on ${c.key}` }, keep, revert, status));
  return li;
}

function guessOS() {
  const ua = navigator.userAgent;
  if (/Android/i.test(ua)) return 'Android';
  if (/iPhone|iPad|iPod/i.test(ua)) return 'iOS';
  if (/Windows/i.test(ua)) return 'Windows';
  if (/Mac OS X/i.test(ua)) return 'macOS';
  if (/Linux/i.test(ua)) return 'Linux';
  return '';
}

function savedPlatform() {
  try {
    return JSON.parse(localStorage.getItem('pg.platform') || 'null') || { os: guessOS(), device: '', client_version: '' };
  } catch (_) {
    return { os: guessOS(), device: '', client_version: '' };
  }
}

function feedbackForm(build, changes, closed, ctx) {
  const plat = savedPlatform();
  const kind = select('kind', [['bug', 'Bug'], ['suggestion', 'Suggestion'], ['praise', 'Praise'], ['other', 'Other']], 'bug', { id: 'fb-kind' });
  const severity = select('severity', [['', 'Choose…'], ['low', 'Low: cosmetic'], ['medium', 'Medium: annoying'], ['high', 'High: blocks a feature'], ['critical', 'Critical: crash or data loss']], '', { id: 'fb-severity' });
  const title = h('input', { type: 'text', name: 'title', id: 'fb-title', maxlength: '200', required: true, autocomplete: 'off' });
  const body = h('textarea', { name: 'body', id: 'fb-body', rows: '5', maxlength: '10000' });
  const change = select('change_id', [['', 'Not about one change'], ...changes.map((c) => [c.id, `${c.key}: ${c.title}`])], '', { id: 'fb-change' });
  const os = h('input', { type: 'text', name: 'platform.os', id: 'fb-os', value: plat.os || '', maxlength: '100' });
  const device = h('input', { type: 'text', name: 'platform.device', id: 'fb-device', value: plat.device || '', maxlength: '100' });
  const client = h('input', { type: 'text', name: 'platform.client_version', id: 'fb-client', value: plat.client_version || '', maxlength: '100' });
  const similar = h('div', { class: 'similar', id: 'fb-similar', 'aria-live': 'polite' });
  const fileInput = h('input', { type: 'file', id: 'fb-files', accept: IMAGE_TYPES.join(','), multiple: true, class: 'visually-hidden' });
  const previews = h('ul', { class: 'thumbs', id: 'fb-previews' });
  const drop = h('div', { class: 'dropzone', id: 'fb-drop' },
    h('p', {}, 'Drop screenshots here, paste them (Ctrl+V), or '),
    fileInput,
    h('label', { for: 'fb-files', class: 'btn btn-small' }, 'Choose files'));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'fb-submit', disabled: closed }, 'Send feedback');
  const result = h('div', { id: 'fb-result', 'aria-live': 'polite' });
  const sevField = field('Severity', severity);
  const files = []; // {file, url}
  let idemKey = randomKey();

  const form = h('form', { id: 'feedback-form', class: 'form', novalidate: true },
    h('fieldset', { disabled: closed },
      h('legend', { class: 'visually-hidden' }, 'Feedback'),
      h('div', { class: 'row2' }, field('Kind', kind), sevField),
      field('Title', title, 'One line: what happened?'),
      similar,
      field('Details', body, 'Steps to reproduce, what you expected, what you saw.'),
      field('About a change (optional)', change),
      h('fieldset', { class: 'platform' }, h('legend', {}, 'Platform'),
        h('div', { class: 'row3' }, field('OS', os), field('Device', device), field('Game version', client))),
      h('div', { class: 'field' }, h('span', { class: 'label' }, 'Screenshots'), drop, previews),
      submit),
    result);

  const syncKind = () => {
    sevField.hidden = kind.value !== 'bug';
    if (kind.value !== 'bug') clear(similar);
  };
  kind.addEventListener('change', () => { syncKind(); lookSimilar(); });
  syncKind();

  let lastQuery = '';
  const lookSimilar = debounce(async () => {
    const q = title.value.trim();
    if (kind.value !== 'bug' || q.length < 4) {
      clear(similar);
      lastQuery = '';
      return;
    }
    if (q === lastQuery) return;
    lastQuery = q;
    try {
      const res = await api.get(`/builds/${build.id}/similar${api.qs({ title: q })}`);
      if (q !== title.value.trim()) return;
      showSimilar(similar, (res && res.items) || [], 'Is it one of these? If so, you may not need to file it again.');
    } catch (_) {
      clear(similar); // suggestions are a nicety: stay quiet on errors
    }
  }, 350);
  title.addEventListener('input', lookSimilar);

  function addFiles(list) {
    for (const f of list) {
      if (!IMAGE_TYPES.includes(f.type)) {
        toast(`${f.name || 'That file'} is not a PNG, JPEG, GIF or WebP image`, 'error');
        continue;
      }
      if (f.size > MAX_FILE) {
        toast(`${f.name || 'That image'} is over 10 MiB`, 'error');
        continue;
      }
      const entry = { file: f, url: URL.createObjectURL(f) };
      files.push(entry);
      const img = h('img', { src: entry.url, alt: `Screenshot ${f.name || ''}`.trim() });
      const li = h('li', { class: 'thumb' }, img,
        h('button', {
          type: 'button',
          class: 'btn btn-small btn-ghost',
          'aria-label': `Remove ${f.name || 'screenshot'}`,
          on: {
            click: () => {
              files.splice(files.indexOf(entry), 1);
              URL.revokeObjectURL(entry.url);
              li.remove();
            },
          },
        }, 'Remove'));
      previews.appendChild(li);
    }
  }
  fileInput.addEventListener('change', () => {
    addFiles([...fileInput.files]);
    fileInput.value = '';
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (!closed && e.dataTransfer) addFiles([...e.dataTransfer.files]);
  });
  form.pasteHandler = (e) => {
    if (closed || !e.clipboardData) return;
    const imgs = [...e.clipboardData.items].filter((i) => i.kind === 'file' && i.type.startsWith('image/')).map((i) => i.getAsFile()).filter(Boolean);
    if (!imgs.length) return;
    e.preventDefault();
    addFiles(imgs.map((f, i) => (f.name && f.name !== 'image.png' ? f : new File([f], `pasted-${Date.now()}-${i}.${(f.type.split('/')[1] || 'png')}`, { type: f.type }))));
    toast('Screenshot pasted', 'ok');
  };
  form.cleanup = () => {
    lookSimilar.cancel();
    for (const f of files) URL.revokeObjectURL(f.url);
  };

  form.addEventListener('submit', safe(async (e) => {
    e.preventDefault();
    showFormError(form, null);
    const payload = { kind: kind.value, title: title.value.trim() };
    if (!payload.title) {
      showFormError(form, { message: 'Give your feedback a title.', fields: { title: 'required' } });
      title.focus();
      return;
    }
    if (kind.value === 'bug') {
      if (!severity.value) {
        showFormError(form, { message: 'Choose how severe the bug is.', fields: { severity: 'required for bugs' } });
        severity.focus();
        return;
      }
      payload.severity = severity.value;
    }
    if (body.value.trim()) payload.body = body.value;
    if (change.value) payload.change_id = Number(change.value);
    const platform = { os: os.value.trim(), device: device.value.trim(), client_version: client.value.trim() };
    if (platform.os || platform.device || platform.client_version) payload.platform = platform;
    try {
      localStorage.setItem('pg.platform', JSON.stringify(platform));
    } catch (_) { /* ignore */ }
    submit.disabled = true;
    submit.textContent = 'Sending…';
    let fb;
    try {
      fb = await api.post(`/builds/${build.id}/feedback?similar=true`, payload, { headers: { 'Idempotency-Key': idemKey } });
    } catch (err) {
      showFormError(form, err);
      submit.disabled = false;
      submit.textContent = 'Send feedback';
      return;
    }
    const failed = [];
    for (const [i, entry] of files.entries()) {
      submit.textContent = `Uploading screenshot ${i + 1} of ${files.length}…`;
      const fd = new FormData();
      fd.append('file', entry.file, entry.file.name || `screenshot-${i + 1}.png`);
      try {
        await api.post(`/feedback/${fb.id}/attachments`, fd);
      } catch (err) {
        failed.push(`${entry.file.name || 'screenshot'}: ${err.message}`);
      }
    }
    // Done: reset for the next report.
    idemKey = randomKey();
    form.cleanup();
    files.length = 0;
    clear(previews);
    title.value = '';
    body.value = '';
    severity.value = '';
    change.value = '';
    clear(similar);
    lastQuery = '';
    submit.disabled = false;
    submit.textContent = 'Send feedback';
    const others = (fb.similar || []).filter((s) => s.id !== fb.id);
    replace(result, h('div', { class: 'success', id: 'fb-success', role: 'status' },
      h('p', {}, 'Thank you! Your feedback was sent. ', h('a', { href: `/feedback/${fb.id}`, id: 'fb-success-link' }, 'Follow it here')),
      failed.length ? h('div', { class: 'error-box' }, 'Some screenshots could not be attached:', h('ul', {}, failed.map((f) => h('li', {}, f)))) : null,
      others.length ? showSimilar(h('div', { class: 'similar' }), others, 'Others reported similar things:') : null));
    result.scrollIntoView({ block: 'nearest' });
    ctx.refreshNav();
  }));
  return form;
}

function showSimilar(box, items, heading) {
  clear(box);
  if (!items.length) return box;
  box.append(h('p', { class: 'small' }, h('strong', {}, heading)),
    h('ul', { class: 'similar-list' }, items.slice(0, 5).map((it) => h('li', {},
      h('span', {}, it.title),
      typeof it.score === 'number' && it.score > 0 && it.score <= 1 ? h('span', { class: 'muted small' }, ` (${Math.round(it.score * 100)}% alike)`) : null))));
  return box;
}
