// Build settings: notes, access details, closing date, flag policy, and the
// list of changes testers vote on.

import * as api from '../api.js';
import { h, replace, empty, setTitle, field, select, showFormError, toast, safe, errorBox, badge, loading, CHANGE_LABELS } from '../dom.js';
import { buildHeader } from './common.js';

function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d)) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// The fields shared by "new build" and "edit build". Returns {nodes, read()}.
export function buildFields(build = {}, { withVersion = false } = {}) {
  const a = build.access || {};
  const p = build.policy || {};
  const version = h('input', { type: 'text', name: 'version', id: 'b-version', required: true, maxlength: '100', value: build.version || '' });
  const notes = h('textarea', { name: 'notes', id: 'b-notes', rows: '3', maxlength: '10000' });
  notes.value = build.notes || '';
  const url = h('input', { type: 'url', name: 'access.url', id: 'b-url', value: a.url || '', placeholder: 'https://…' });
  const server = h('input', { type: 'text', name: 'access.server', id: 'b-server', value: a.server || '' });
  const key = h('input', { type: 'text', name: 'access.key', id: 'b-key', value: a.key || '', autocomplete: 'off' });
  const instructions = h('textarea', { name: 'access.instructions', id: 'b-instructions', rows: '3' });
  instructions.value = a.instructions || '';
  const closes = h('input', { type: 'datetime-local', name: 'closes_at', id: 'b-closes', value: toLocalInput(build.closes_at) });
  const minVotes = h('input', { type: 'number', name: 'policy.min_votes', id: 'b-min-votes', min: '1', step: '1', value: p.min_votes ?? 5 });
  const threshold = h('input', { type: 'number', name: 'policy.revert_threshold', id: 'b-threshold', min: '1', max: '99', step: '1', value: Math.round((p.revert_threshold ?? 0.3) * 100) });
  const confidence = h('input', { type: 'number', name: 'policy.confidence', id: 'b-confidence', min: '50', max: '99.9', step: '0.1', value: +((p.confidence ?? 0.95) * 100).toFixed(1) });
  const blockSev = select('policy.block_severity', [['critical', 'Critical'], ['high', 'High or worse'], ['medium', 'Medium or worse'], ['low', 'Any bug']], p.block_severity || 'critical', { id: 'b-block' });
  const nodes = [
    withVersion ? field('Version', version, 'For example 1.4.0-rc2') : null,
    field('Notes for testers', notes),
    h('fieldset', {}, h('legend', {}, 'Access details (shown to granted testers)'),
      h('div', { class: 'row2' }, field('Download URL', url), field('Server', server)),
      field('Key', key), field('Instructions', instructions)),
    field('Testing closes at', closes, 'Optional. After this, testers can read but no longer vote or send feedback.'),
    h('fieldset', {}, h('legend', {}, 'Rollback flag policy'),
      h('div', { class: 'row2' },
        field('Minimum votes', minVotes),
        field('Revert threshold (%)', threshold),
        field('Confidence (%)', confidence),
        field('Blocking bug severity', blockSev))),
  ];
  const read = () => {
    const out = {
      notes: notes.value,
      access: { url: url.value.trim(), server: server.value.trim(), key: key.value.trim(), instructions: instructions.value },
      closes_at: closes.value ? new Date(closes.value).toISOString() : null,
      policy: {
        min_votes: Number(minVotes.value),
        revert_threshold: Number(threshold.value) / 100,
        confidence: Math.round(Number(confidence.value) * 10) / 1000,
        block_severity: blockSev.value,
      },
    };
    if (withVersion) out.version = version.value.trim();
    return out;
  };
  return { nodes, read };
}

export async function render(root, ctx) {
  const id = Number(ctx.params[0]);
  const build = await api.get(`/builds/${id}`);
  if (!ctx.isCurrent()) return;
  setTitle(`Settings · Build ${build.version}`);
  const head = await buildHeader(build, 'settings', ctx.user);

  const { nodes, read } = buildFields(build);
  const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'build-save' }, 'Save settings');
  const form = h('form', { class: 'form', id: 'build-form', novalidate: true }, nodes, save);
  form.addEventListener('submit', safe(async (e) => {
    e.preventDefault();
    showFormError(form, null);
    const body = read();
    if (!body.closes_at && !build.closes_at) delete body.closes_at;
    save.disabled = true;
    try {
      const b = await api.patch(`/builds/${id}`, body);
      Object.assign(build, b || {});
      toast('Settings saved', 'ok');
    } catch (err) {
      showFormError(form, err);
    } finally {
      save.disabled = false;
    }
  }));

  const changesBox = h('div', { id: 'settings-changes' }, loading());
  async function loadChanges() {
    try {
      const items = await api.all(`/builds/${id}/changes`);
      if (!ctx.isCurrent()) return;
      replace(changesBox, items.length
        ? h('ul', { class: 'rows' }, items.map((c) => h('li', { class: 'row', 'data-testid': `settings-change-${c.id}` },
          h('div', { class: 'row-main' }, h('code', { class: 'key' }, c.key), ' ', h('strong', {}, c.title), c.area ? h('span', { class: 'muted small' }, ` · ${c.area}`) : null,
            c.description ? h('p', { class: 'pre small muted' }, c.description) : null),
          badge('change', c.status, CHANGE_LABELS))))
        : empty('No changes yet: add the first one below.'));
    } catch (err) {
      replace(changesBox, errorBox(err, loadChanges));
    }
  }

  const cKey = h('input', { type: 'text', name: 'key', id: 'c-key', required: true, maxlength: '100', placeholder: 'e.g. GAME-123' });
  const cTitle = h('input', { type: 'text', name: 'title', id: 'c-title', required: true, maxlength: '200' });
  const cArea = h('input', { type: 'text', name: 'area', id: 'c-area', maxlength: '100', placeholder: 'e.g. Combat' });
  const cDesc = h('textarea', { name: 'description', id: 'c-desc', rows: '2' });
  const cAdd = h('button', { type: 'submit', class: 'btn', id: 'change-add' }, 'Add change');
  const cForm = h('form', { class: 'form', id: 'change-form', novalidate: true },
    h('div', { class: 'row3' }, field('Key', cKey), field('Title', cTitle), field('Area', cArea)), field('Description', cDesc), cAdd);
  cForm.addEventListener('submit', safe(async (e) => {
    e.preventDefault();
    showFormError(cForm, null);
    if (!cKey.value.trim() || !cTitle.value.trim()) {
      showFormError(cForm, { message: 'A change needs a key and a title.' });
      return;
    }
    cAdd.disabled = true;
    try {
      await api.post(`/builds/${id}/changes`, { key: cKey.value.trim(), title: cTitle.value.trim(), area: cArea.value.trim(), description: cDesc.value });
      toast('Change added', 'ok');
      cKey.value = cTitle.value = cArea.value = cDesc.value = '';
      cKey.focus();
      await loadChanges();
    } catch (err) {
      showFormError(cForm, err);
    } finally {
      cAdd.disabled = false;
    }
  }));

  replace(root, head,
    h('section', { class: 'card', 'aria-labelledby': 'ch-h' }, h('h2', { id: 'ch-h' }, 'Changes'), changesBox, h('h3', {}, 'Add a change'), cForm),
    h('section', { class: 'card', 'aria-labelledby': 'set-h' }, h('h2', { id: 'set-h' }, 'Build settings'), form));
  await loadChanges();
}
