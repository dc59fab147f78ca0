// The release board: decide every change, promote through the gate, roll
// back production, copy release notes.

import * as api from '../api.js';
import { h, replace, empty, setTitle, badge, debounce, errorBox, toast, safe, modal, field, copyButton, fmtDate, pct, CHANGE_LABELS, STAGE_LABELS } from '../dom.js';
import { buildHeader, productHistory } from './common.js';
import { severityChips } from '../charts.js';

const VERDICT_LABELS = { revert: 'Flagged: revert', watch: 'Watch', insufficient: 'Too few votes', ok: 'OK' };

export async function render(root, ctx) {
  const id = Number(ctx.params[0]);
  let build = await api.get(`/builds/${id}`);
  if (!ctx.isCurrent()) return;
  setTitle(`Release board · Build ${build.version}`);
  const headBox = h('div', {}, await buildHeader(build, 'board', ctx.user));
  const gateBox = h('section', { class: 'card gate', id: 'gate', 'aria-labelledby': 'gate-h' });
  const changesBox = h('section', { class: 'card', 'aria-labelledby': 'board-h' });
  const notesBox = h('section', { class: 'card', id: 'release-notes-card', 'aria-labelledby': 'notes-h' });
  const history = await productHistory(build.product_id, ctx.user, () => reloadAll());
  let lines = [];
  let promoteError = null;

  async function reloadAll() {
    try {
      const [b, report, gate, notes] = await Promise.all([
        api.get(`/builds/${id}`),
        api.get(`/builds/${id}/report`),
        api.get(`/builds/${id}/gate`).catch((err) => ({ error: err })),
        api.get(`/builds/${id}/release-notes`).catch((err) => ({ error: err })),
      ]);
      if (!ctx.isCurrent()) return;
      const stageChanged = b.stage !== build.stage;
      build = b;
      if (stageChanged) replace(headBox, await buildHeader(build, 'board', ctx.user));
      lines = report.changes || [];
      drawGate(gate);
      drawChanges();
      drawNotes(notes);
    } catch (err) {
      if (ctx.isCurrent()) replace(changesBox, h('h2', { id: 'board-h' }, 'Changes'), errorBox(err, reloadAll));
    }
  }

  const frozen = () => !['qc', 'staging'].includes(build.stage);

  function drawGate(gate) {
    const parts = [h('h2', { id: 'gate-h' }, 'Release gate')];
    if (promoteError) {
      parts.push(errorBox(promoteError));
      promoteError = null;
    }
    if (gate.error) {
      parts.push(errorBox(gate.error));
    } else if (!gate.to) {
      const final = {
        production: 'This build is in production: there is no further step. Roll back below if needed.',
        superseded: 'A newer build replaced this one in production.',
        rolled_back: 'This build was rolled back from production.',
      };
      parts.push(h('p', { id: 'gate-final' }, final[build.stage] || `This build is at stage ${STAGE_LABELS[build.stage] || build.stage}: there is no further step.`));
    } else {
      const blockers = gate.blockers || [];
      parts.push(h('p', {}, 'Next step: ', h('strong', {}, `${STAGE_LABELS[build.stage] || build.stage} → ${STAGE_LABELS[gate.to] || gate.to}`)));
      parts.push(blockers.length
        ? h('ul', { class: 'checklist', id: 'gate-blockers', 'aria-label': 'What blocks promotion' }, blockers.map((b) => h('li', { class: 'check-fail' }, h('span', { class: 'check-icon', 'aria-hidden': 'true' }, '✗'), h('span', {}, b))))
        : h('ul', { class: 'checklist', id: 'gate-ok' }, h('li', { class: 'check-ok' }, h('span', { class: 'check-icon', 'aria-hidden': 'true' }, '✓'), 'Every change is decided and no approved change has an open blocking bug.')));
      const btn = h('button', { type: 'button', class: 'btn btn-primary', id: 'promote-btn', 'data-to': gate.to, disabled: !gate.ok }, `Promote to ${STAGE_LABELS[gate.to] || gate.to}`);
      btn.addEventListener('click', safe(async () => {
        btn.disabled = true;
        try {
          await api.post(`/builds/${id}/promote`, { to: gate.to });
          toast(`Build ${build.version} promoted to ${STAGE_LABELS[gate.to] || gate.to}`, 'ok');
        } catch (err) {
          promoteError = err;
        }
        await reloadAll();
        await history.reload();
      }));
      parts.push(h('div', { class: 'actions' }, btn));
    }
    replace(gateBox, parts);
  }

  // Live updates redraw the list: keep what the user typed, skip redraws
  // that change nothing, and give focus back to the field that had it.
  const notes = new Map();
  let drawn = '';
  function drawChanges() {
    const key = JSON.stringify([build.stage, lines]);
    if (key === drawn) return;
    drawn = key;
    const active = document.activeElement;
    const focusId = active && changesBox.contains(active) ? active.id : null;
    const sel = focusId && active.selectionStart !== undefined ? [active.selectionStart, active.selectionEnd] : null;
    const undecided = lines.filter((l) => l.change.status === 'pending').length;
    replace(changesBox,
      h('h2', { id: 'board-h' }, 'Changes'),
      h('p', { class: 'muted small' }, frozen()
        ? 'Decisions are final: this build has reached production.'
        : `${undecided} of ${lines.length} change${lines.length === 1 ? '' : 's'} still to decide. Approving a flagged change needs a note saying why.`),
      lines.length ? h('ul', { class: 'board-changes', id: 'board-changes' }, lines.map(changeRow)) : empty('This build has no changes: add them in Settings & changes.'));
    const again = focusId ? document.getElementById(focusId) : null;
    if (again) {
      again.focus();
      if (sel && again.setSelectionRange) again.setSelectionRange(sel[0], sel[1]);
    }
  }

  function changeRow(line) {
    const c = line.change;
    const flag = line.flag || {};
    const verdict = flag.verdict || (flag.flagged ? 'revert' : 'ok');
    const votes = line.votes || { keep: 0, revert: 0 };
    const note = h('input', { type: 'text', name: 'note', id: `note-${c.id}`, 'data-testid': `note-${c.id}`, maxlength: '2000', placeholder: flag.flagged ? 'Required to approve' : 'Optional', value: notes.get(c.id) || '' });
    note.addEventListener('input', () => notes.set(c.id, note.value));
    const approve = h('button', { type: 'button', class: 'btn btn-small btn-ok', id: `approve-${c.id}`, 'data-testid': `approve-${c.id}`, disabled: frozen() || c.status === 'approved' }, c.status === 'reverted' ? 'Approve instead' : 'Approve');
    const revert = h('button', { type: 'button', class: 'btn btn-small btn-danger', id: `revert-${c.id}`, 'data-testid': `revert-${c.id}`, disabled: frozen() || c.status === 'reverted' }, c.status === 'approved' ? 'Revert instead' : 'Revert');
    approve.addEventListener('click', safe(() => decide(c, 'approved', note.value.trim(), Boolean(flag.flagged), flag.reasons || [])));
    revert.addEventListener('click', safe(() => decide(c, 'reverted', note.value.trim(), false, [])));
    return h('li', { class: ['board-change', flag.flagged && 'flagged', `status-${c.status}`], 'data-testid': `board-change-${c.id}`, 'data-flagged': String(Boolean(flag.flagged)) },
      h('div', { class: 'rc-head' },
        h('h3', {}, h('code', { class: 'key' }, c.key), ' ', c.title),
        h('div', { class: 'badges' },
          h('span', { 'data-testid': `status-${c.id}` }, badge('change', c.status, CHANGE_LABELS)),
          badge('verdict', verdict, VERDICT_LABELS))),
      h('p', { class: 'small' }, `${votes.keep || 0} keep · ${votes.revert || 0} revert`,
        line.revert_share !== undefined && (votes.keep || votes.revert) ? ` · revert share ${pct(line.revert_share)} (at least ${pct(line.revert_lower_bound)})` : '',
        ' · ', severityChips(line.open_bugs, `board-bugs-${c.id}`)),
      (flag.reasons && flag.reasons.length) ? h('ul', { class: 'reasons', 'data-testid': `board-reasons-${c.id}` }, flag.reasons.map((r) => h('li', {}, r))) : null,
      c.status !== 'pending' ? h('p', { class: 'decision small' },
        `${CHANGE_LABELS[c.status]} ${c.decided_at ? fmtDate(c.decided_at) : ''}`, c.note ? h('span', {}, ': “', c.note, '”') : null) : null,
      frozen() ? null : h('div', { class: 'decide' }, field('Decision note', note), h('div', { class: 'btn-row' }, approve, revert)));
  }

  async function decide(c, decision, note, flagged, reasons) {
    if (decision === 'approved' && flagged && !note) {
      note = await askNote(c, reasons);
      if (note === null) return;
    }
    try {
      await api.post(`/changes/${c.id}/decision`, { decision, note });
      notes.delete(c.id);
      toast(`${c.key} ${decision === 'approved' ? 'approved' : 'reverted'}`, 'ok');
    } catch (err) {
      if (err.status === 400 && decision === 'approved' && !note) {
        // Flagged since the page loaded: the server wants a note.
        const n = await askNote(c, [err.message]);
        if (n === null) return;
        return decide(c, decision, n, false, []);
      }
      toast(err.message, 'error');
    }
    await reloadAll();
  }

  async function askNote(c, reasons) {
    const ta = h('textarea', { name: 'note', rows: '4', id: 'approve-note', 'data-testid': 'approve-note', maxlength: '2000', required: true });
    let value = null;
    const v = await modal({
      title: `Approve flagged change ${c.key}?`,
      testid: 'note-dialog',
      body: h('div', {},
        h('p', {}, 'This change is flagged for rollback:'),
        h('ul', { class: 'reasons' }, reasons.map((r) => h('li', {}, r))),
        field('Why keep it? (required, kept in the decision ledger)', ta)),
      actions: [{ label: 'Approve with this note', value: 'ok', class: 'btn-ok', testid: 'approve-note-confirm' }],
      onSubmit: () => {
        if (!ta.value.trim()) return 'A note is required to approve a flagged change.';
        value = ta.value.trim();
        return null;
      },
    });
    return v === 'ok' ? value : null;
  }

  function drawNotes(notes) {
    const parts = [h('h2', { id: 'notes-h' }, 'Release notes')];
    if (notes.error) parts.push(errorBox(notes.error));
    else {
      const text = notes.markdown || '';
      const ta = h('textarea', { readonly: 'readonly', rows: String(Math.min(16, Math.max(4, text.split('\n').length + 1))), id: 'release-notes', class: 'mono', 'aria-label': 'Release notes in Markdown' });
      ta.value = text;
      parts.push(h('p', { class: 'muted small' }, `${(notes.approved || []).length} approved, ${(notes.reverted || []).length} reverted.`),
        ta, h('div', { class: 'actions' }, copyButton(text, 'Copy release notes', { id: 'copy-notes' })));
    }
    replace(notesBox, parts);
  }

  replace(root, headBox, gateBox, changesBox, notesBox, history);
  await reloadAll();

  const reload = debounce(() => reloadAll(), 400);
  const stop = api.events(`/builds/${id}/events`, () => reload(), () => {});
  ctx.onCleanup(() => {
    stop();
    reload.cancel();
  });
}
