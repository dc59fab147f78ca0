// Small hand-written SVG charts. Every chart has a text alternative.

import { h, s, pct, fmtDay } from './dom.js';

// A stacked keep/revert bar.
export function voteBar(keep, revert, testid) {
  const total = keep + revert;
  const kw = total ? (keep / total) * 100 : 0;
  const svg = s('svg', { viewBox: '0 0 100 10', preserveAspectRatio: 'none', class: 'bar', role: 'img', 'aria-label': `${keep} keep, ${revert} revert`, 'data-testid': testid },
    s('rect', { x: 0, y: 0, width: 100, height: 10, class: 'bar-track' }));
  if (total) {
    svg.append(
      s('rect', { x: 0, y: 0, width: kw, height: 10, class: 'bar-keep' }, s('title', { text: `${keep} keep` })),
      s('rect', { x: kw, y: 0, width: 100 - kw, height: 10, class: 'bar-revert' }, s('title', { text: `${revert} revert` })));
  }
  return svg;
}

// The revert share with its lower bound, against the threshold line.
export function shareGauge(share, lower, threshold, testid) {
  const x = (v) => Math.max(0, Math.min(100, (v || 0) * 100));
  const svg = s('svg', {
    viewBox: '0 0 100 12',
    preserveAspectRatio: 'none',
    class: 'gauge',
    role: 'img',
    'aria-label': `Revert share ${pct(share)}, lower bound ${pct(lower)}, threshold ${pct(threshold, 0)}`,
    'data-testid': testid,
  },
  s('rect', { x: 0, y: 2, width: 100, height: 8, class: 'gauge-track' }),
  s('rect', { x: 0, y: 2, width: x(share), height: 8, class: 'gauge-share' }, s('title', { text: `Revert share ${pct(share)}` })),
  s('rect', { x: 0, y: 2, width: x(lower), height: 8, class: 'gauge-lower' }, s('title', { text: `Lower bound ${pct(lower)}` })),
  s('line', { x1: x(threshold), x2: x(threshold), y1: 0, y2: 12, class: 'gauge-threshold', 'vector-effect': 'non-scaling-stroke' }, s('title', { text: `Threshold ${pct(threshold, 0)}` })));
  return svg;
}

function addDays(day, n) {
  const d = new Date(day + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

// Feedback per day as bars, gaps filled with zero days.
export function timelineChart(timeline, testid = 'chart-timeline') {
  const byDay = new Map((timeline || []).map((p) => [String(p.day).slice(0, 10), p.feedback || 0]));
  if (!byDay.size) return h('p', { class: 'muted', 'data-testid': testid + '-empty' }, 'No feedback yet.');
  const days = [...byDay.keys()].sort();
  const series = [];
  for (let d = days[0], i = 0; d <= days[days.length - 1] && i < 400; d = addDays(d, 1), i++) series.push([d, byDay.get(d) || 0]);
  // A narrower drawing on phones keeps the labels readable.
  const W = window.innerWidth < 600 ? 360 : 600;
  const H = 180;
  const pad = { l: 32, r: 8, t: 12, b: 28 };
  const max = Math.max(1, ...series.map(([, v]) => v));
  const bw = (W - pad.l - pad.r) / series.length;
  const y = (v) => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `Feedback per day: ${series.map(([d, v]) => `${fmtDay(d)} ${v}`).join(', ')}`, 'data-testid': testid },
    s('line', { x1: pad.l, x2: W - pad.r, y1: y(0), y2: y(0), class: 'axis' }),
    s('text', { x: pad.l - 6, y: y(max) + 4, class: 'tick', 'text-anchor': 'end', text: String(max) }),
    s('text', { x: pad.l - 6, y: y(0), class: 'tick', 'text-anchor': 'end', text: '0' }),
    s('line', { x1: pad.l, x2: W - pad.r, y1: y(max), y2: y(max), class: 'grid' }));
  const every = Math.ceil(series.length / 8);
  series.forEach(([d, v], i) => {
    const x = pad.l + i * bw;
    const w = Math.max(1, Math.min(bw * 0.7, 48));
    svg.append(s('rect', { x: x + (bw - w) / 2, y: y(v), width: w, height: Math.max(0, y(0) - y(v)), class: 'bar-feedback', dataset: { day: d } },
      s('title', { text: `${fmtDay(d)}: ${v} feedback` })));
    if (i % every === 0 || i === series.length - 1) {
      svg.append(s('text', { x: x + bw / 2, y: H - 8, class: 'tick', 'text-anchor': 'middle', text: fmtDay(d) }));
    }
  });
  return svg;
}

// Open bugs by severity as chips.
export function severityChips(bugs, testid) {
  const order = ['critical', 'high', 'medium', 'low'];
  const b = bugs || {};
  const total = order.reduce((n, k) => n + (b[k] || 0), 0);
  if (!total) return h('span', { class: 'muted small', 'data-testid': testid }, 'No open bugs');
  return h('span', { class: 'chips', 'data-testid': testid },
    order.filter((k) => b[k]).map((k) => h('span', { class: `chip sev-${k}` }, `${b[k]} ${k}`)));
}
