// The build report: per change votes, revert share against the threshold,
// open bugs and rollback flags; feedback over time; totals. Live through the
// build's event stream.

import * as api from '../api.js';
import { h, replace, empty, pct, setTitle, badge, debounce, errorBox, CHANGE_LABELS } from '../dom.js';
import { voteBar, shareGauge, timelineChart, severityChips } from '../charts.js';
import { buildHeader } from './common.js';

const VERDICT_LABELS = { revert: 'Flagged: revert', watch: 'Watch', insufficient: 'Too few votes', ok: 'OK' };
const VERDICT_ORDER = { revert: 0, watch: 1, insufficient: 2, ok: 3 };

export async function render(root, ctx) {
  const id = Number(ctx.params[0]);
  const [build, first] = await Promise.all([api.get(`/builds/${id}`), api.get(`/builds/${id}/report`)]);
  if (!ctx.isCurrent()) return;
  setTitle(`Report · Build ${build.version}`);
  const head = await buildHeader(build, 'report', ctx.user);
  const live = h('span', { class: 'live live-connecting', id: 'live-status', role: 'status' }, 'Connecting…');
  const updated = h('span', { class: 'muted small', id: 'report-updated' });
  const body = h('div', { id: 'report-body', class: 'stack', 'data-version': '0' });
  let version = 0;

  const draw = (report) => {
    version++;
    body.dataset.version = String(version);
    replace(body, ...reportSections(report));
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  };

  const reload = debounce(async () => {
    try {
      const r = await api.get(`/builds/${id}/report`);
      if (ctx.isCurrent()) draw(r);
    } catch (err) {
      if (ctx.isCurrent()) replace(body, errorBox(err, () => reload()));
    }
  }, 300);

  replace(root, head,
    h('div', { class: 'toolbar' }, live, updated,
      h('button', { type: 'button', class: 'btn btn-small btn-ghost', id: 'report-refresh', on: { click: () => reload() } }, 'Refresh')),
    body);
  draw(first);

  const labels = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', off: 'Live updates off' };
  const stop = api.events(`/builds/${id}/events`, () => reload(), (st) => {
    live.className = `live live-${st}`;
    live.textContent = labels[st] || st;
    // Catch up on anything missed while the stream was down.
    if (st === 'live' && version > 1) reload();
  });
  ctx.onCleanup(() => {
    stop();
    reload.cancel();
  });
}

function reportSections(r) {
  const t = r.totals || {};
  const bugs = t.bugs || {};
  const bugTotal = ['low', 'medium', 'high', 'critical'].reduce((n, k) => n + (bugs[k] || 0), 0);
  const policy = r.policy || (r.build && r.build.policy) || {};
  const changes = [...(r.changes || [])].sort((a, b) =>
    (VERDICT_ORDER[verdictOf(a)] ?? 9) - (VERDICT_ORDER[verdictOf(b)] ?? 9));
  const flaggedCount = changes.filter((c) => c.flag && c.flag.flagged).length;

  const totals = h('section', { class: 'totals', id: 'report-totals', 'aria-label': 'Totals' },
    stat('Feedback', t.feedback ?? 0, 'total-feedback'),
    stat('Bugs', bugTotal, 'total-bugs', severityChips(bugs, 'total-bugs-sev')),
    stat('Testers active', `${t.testers_active ?? 0} / ${t.testers_granted ?? 0}`, 'total-testers', h('span', { class: 'muted small' }, 'active / granted')),
    stat('Flagged changes', flaggedCount, 'total-flagged'));

  const rule = h('p', { class: 'muted small', id: 'report-policy' },
    `Flag rule: an open ${policy.block_severity || 'critical'} bug, or at least ${policy.min_votes ?? 5} votes with a revert share whose lower bound at ${pct(policy.confidence ?? 0.95, 0)} confidence is at least ${pct(policy.revert_threshold ?? 0.3, 0)}.`);

  const list = changes.length
    ? h('ul', { class: 'report-changes', id: 'report-changes' }, changes.map((line) => changeLine(line, policy)))
    : empty('This build has no changes yet.');

  return [
    totals,
    h('section', { class: 'card', 'aria-labelledby': 'rc-title' },
      h('h2', { id: 'rc-title' }, 'Changes'), rule,
      h('p', { class: 'legend small' },
        h('span', { class: 'swatch swatch-keep' }), 'keep ', h('span', { class: 'swatch swatch-revert' }), 'revert · ',
        h('span', { class: 'swatch swatch-share' }), 'revert share ',
        h('span', { class: 'swatch swatch-lower' }), `its lower bound at ${pct(policy.confidence ?? 0.95, 0)} confidence `,
        h('span', { class: 'swatch swatch-threshold' }), 'threshold'),
      list),
    h('section', { class: 'card', 'aria-labelledby': 'tl-title' },
      h('h2', { id: 'tl-title' }, 'Feedback over time'),
      timelineChart(r.timeline || [])),
  ];
}

function verdictOf(line) {
  return (line.flag && line.flag.verdict) || (line.flag && line.flag.flagged ? 'revert' : 'ok');
}

function stat(label, value, testid, extra) {
  return h('div', { class: 'stat card' }, h('span', { class: 'stat-label' }, label), h('strong', { class: 'stat-value', 'data-testid': testid }, String(value)), extra || null);
}

function changeLine(line, policy) {
  const c = line.change || {};
  const votes = line.votes || { keep: 0, revert: 0 };
  const flag = line.flag || {};
  const verdict = verdictOf(line);
  const total = (votes.keep || 0) + (votes.revert || 0);
  return h('li', { class: ['report-change', flag.flagged && 'flagged', `verdict-${verdict}`], 'data-testid': `report-change-${c.id}`, 'data-flagged': String(Boolean(flag.flagged)) },
    h('div', { class: 'rc-head' },
      h('h3', {}, h('code', { class: 'key' }, c.key), ' ', c.title),
      h('div', { class: 'badges' },
        badge('verdict', verdict, VERDICT_LABELS),
        badge('change', c.status, CHANGE_LABELS))),
    h('div', { class: 'rc-grid' },
      h('div', { class: 'rc-cell' },
        h('span', { class: 'rc-label' }, 'Votes'),
        voteBar(votes.keep || 0, votes.revert || 0, `vote-bar-${c.id}`),
        h('span', { class: 'small', 'data-testid': `votes-${c.id}` }, `${votes.keep || 0} keep · ${votes.revert || 0} revert`)),
      h('div', { class: 'rc-cell' },
        h('span', { class: 'rc-label' }, 'Revert share'),
        shareGauge(line.revert_share, line.revert_lower_bound, policy.revert_threshold ?? 0.3, `share-${c.id}`),
        h('span', { class: 'small', 'data-testid': `share-text-${c.id}` },
          total ? `${pct(line.revert_share)} (at least ${pct(line.revert_lower_bound)}) · threshold ${pct(policy.revert_threshold ?? 0.3, 0)}` : 'No votes yet')),
      h('div', { class: 'rc-cell' },
        h('span', { class: 'rc-label' }, 'Open bugs'),
        severityChips(line.open_bugs, `bugs-${c.id}`))),
    (flag.reasons && flag.reasons.length)
      ? h('ul', { class: 'reasons', 'data-testid': `reasons-${c.id}` }, flag.reasons.map((r) => h('li', {}, r)))
      : null);
}
