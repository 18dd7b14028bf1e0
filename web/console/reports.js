// shopchat operator console: the reports tab.

import { mount } from './config.js';
import { byId, duration, fillAvatar, fmtDay, h, money, show } from './helpers.js';
import { S } from './state.js';
import { formError } from './tabs.js';
import { botSection } from './answers.js';

const isoDay = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
(() => {
  const to = new Date();
  const from = new Date(to.getFullYear(), to.getMonth(), to.getDate() - 6); // the last 7 days, today included
  byId('report-from').value = isoDay(from);
  byId('report-to').value = isoDay(to);
})();

export function reportURL(format) {
  const q = new URLSearchParams({ from: byId('report-from').value, to: byId('report-to').value, period: byId('report-period').value });
  if (format) q.set('format', format);
  return `${mount}reports?${q}`;
}

let reportSeq = 0;
export async function loadReport() {
  const seq = ++reportSeq;
  byId('report-csv').href = reportURL('csv');
  formError('report-error', '');
  if (byId('report-from').value > byId('report-to').value) return formError('report-error', 'The start date is after the end date.');
  show(byId('report-loading'), true);
  let err = '';
  try {
    const r = await fetch(reportURL(), { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (seq !== reportSeq) return;
    if (r.ok) {
      S.report = await r.json();
      renderReport(S.report);
    } else {
      err = r.status === 401 ? 'Your operator session has ended: log in again.' : `The report failed: ${(await r.text()).trim().slice(0, 300) || r.status}`;
    }
  } catch (e) {
    err = 'The report could not be loaded (network error).';
  }
  if (seq !== reportSeq) return;
  show(byId('report-loading'), false);
  formError('report-error', err);
}

const pct = (x) => (typeof x === 'number' && isFinite(x) ? `${Math.round(x * 1000) / 10}%` : '—');
// Seconds as the JSON has them: under 10 s with decimals (0.92 s reads "0.92s", not "0s").
const secs = (x) => (typeof x === 'number' && x > 0 ? (x < 1 ? `${Math.max(0.01, Math.round(x * 100) / 100)}s` : x < 10 ? `${Math.round(x * 10) / 10}s` : duration(x)) : '—');

function table(id, heads, rows) {
  return h('table', { class: 'report-table', id, 'data-sc': id },
    h('thead', null, h('tr', null, ...heads.map((x, i) => h('th', { scope: 'col', class: i ? 'num' : undefined, text: x })))),
    h('tbody', null, ...rows.map((r) => h('tr', r.attrs || null, ...r.cells.map((x, i) => h('td', { class: i ? 'num' : undefined }, x))))));
}

// chart draws the periods as bars or a line in inline SVG (no library).
function chart(id, title, points, kind, fmtValue, least) {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 600, H = 200, L = 48, B = 24, T = 10, R = 10;
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  // The scale's top: 1, 2 or 5 times a power of ten, so the gridlines read well.
  const top = Math.max(least, ...points.map((p) => p.value));
  const mag = Math.pow(10, Math.floor(Math.log10(top)));
  const max = [1, 2, 5, 10].map((f) => f * mag).find((x) => x >= top);
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, class: `chart chart-${kind}`, id, 'data-sc': id });
  svg.append(el('title', {}, title));
  const x0 = L, w = W - L - R, y = (v) => T + (H - T - B) * (1 - v / max);
  for (const f of [0, 0.5, 1]) {
    svg.append(el('line', { x1: x0, x2: W - R, y1: y(max * f), y2: y(max * f), class: 'grid' }));
    svg.append(el('text', { x: x0 - 6, y: y(max * f) + 4, 'text-anchor': 'end', class: 'axis' }, fmtValue(max * f)));
  }
  const step = w / Math.max(1, points.length);
  const labelEvery = Math.ceil(points.length / 8);
  points.forEach((p, i) => {
    const cx = x0 + step * (i + 0.5);
    if (kind === 'bars') {
      const bw = Math.max(2, step * 0.7);
      const r = el('rect', { x: cx - bw / 2, y: y(p.value), width: bw, height: Math.max(0, H - B - y(p.value)), class: 'bar' });
      r.append(el('title', {}, `${p.label}: ${fmtValue(p.value)}`));
      svg.append(r);
    }
    if (i % labelEvery === 0) svg.append(el('text', { x: cx, y: H - 6, 'text-anchor': 'middle', class: 'axis' }, p.label));
  });
  if (kind === 'line' && points.length) {
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${(x0 + step * (i + 0.5)).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    svg.append(el('path', { d, class: 'line' }));
    points.forEach((p, i) => {
      const c = el('circle', { cx: x0 + step * (i + 0.5), cy: y(p.value), r: 3, class: 'dot' });
      c.append(el('title', {}, `${p.label}: ${fmtValue(p.value)}`));
      svg.append(c);
    });
  }
  return h('figure', { class: 'card chart-card' }, h('figcaption', { text: title }), svg);
}

function renderReport(rep) {
  const box = byId('report-body');
  box.textContent = '';
  if (!rep || typeof rep !== 'object') return;
  const cur = rep.currency || '';
  const team = rep.team || {};
  const empty = !team.conversations && !team.orders && !(rep.conversion && (rep.conversion.orders_chatted || rep.conversion.orders_not_chatted)) && !(rep.triggers || []).some((x) => x.shown || x.accepted);
  const kpi = (label, value, sub, key) => h('div', { class: 'kpi', 'data-sc': `kpi-${key}` },
    h('div', { class: 'kpi-label', text: label }), h('div', { class: 'kpi-value', text: value }), sub ? h('div', { class: 'kpi-sub', text: sub }) : null);
  box.append(h('div', { class: 'kpis', id: 'report-kpis' },
    kpi('Conversations', String(team.conversations || 0), `max ${team.max_concurrent || 0} at once`, 'conversations'),
    kpi('Missed', String(team.missed || 0), `${team.offline || 0} offline`, 'missed'),
    kpi('First response', secs(team.first_response_median), `p90 ${secs(team.first_response_p90)}`, 'first-response'),
    kpi('Response time', secs(team.response_median), `p90 ${secs(team.response_p90)}`, 'response'),
    kpi('Chat duration', secs(team.duration_median), 'median', 'duration'),
    kpi('Online time', secs(team.online_seconds), 'all operators', 'online'),
    kpi('Orders from chat', String(team.orders || 0), money(team.revenue || 0, cur), 'orders'),
    kpi('CSAT', team.ratings ? pct(team.csat) : '—', team.ratings ? `${(team.rating_average || 0).toFixed(2)} avg · ${team.ratings} ratings` : 'no ratings', 'csat')));

  // A period starts at midnight in the server's zone: label it by that calendar day.
  const dayLabel = (ts) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(ts || ''));
    return m ? fmtDay.format(new Date(+m[1], m[2] - 1, +m[3])) : '';
  };
  const periods = (rep.periods || []).map((p) => ({ p, label: dayLabel(p.start) }));
  if (empty) {
    box.append(h('p', { class: 'card report-empty', 'data-sc': 'report-empty', text: `No data yet for this range: no conversations and no orders${cur ? ` (amounts in ${cur})` : ''}.` }));
    return;
  }
  box.append(h('div', { class: 'charts' },
    chart('report-chart-conversations', `Conversations per ${rep.period === 'week' ? 'week' : 'day'}`, periods.map(({ p, label }) => ({ label, value: p.conversations || 0 })), 'bars', (v) => String(Math.round(v)), 2),
    chart('report-chart-revenue', `Chat revenue per ${rep.period === 'week' ? 'week' : 'day'}`, periods.map(({ p, label }) => ({ label, value: p.revenue || 0 })), 'line', (v) => money(Math.round(v), cur), 100)));

  const conv = rep.conversion || {};
  box.append(h('section', { class: 'card report-section', id: 'report-conversion', 'data-sc': 'report-conversion' },
    h('h3', { text: 'Conversion' }),
    h('p', { class: 'report-def', text: `An order is from chat when it was placed within ${duration(rep.attribution_window_seconds || 604800)} after the visitor chatted with an operator: the same orders as “Orders from chat” above. An order placed before chatting is not.` }),
    h('div', { class: 'conv-compare' },
      h('div', { class: 'kpi' }, h('div', { class: 'kpi-label', text: 'Visitors who chatted' }), h('div', { class: 'kpi-value', text: pct(conv.rate_chatted) }),
        h('div', { class: 'kpi-sub', text: `${conv.orders_chatted || 0} orders from chat, ${conv.visitors_chatted || 0} visitors` })),
      h('div', { class: 'kpi' }, h('div', { class: 'kpi-label', text: 'Visitors who did not chat' }), h('div', { class: 'kpi-value', text: pct(conv.rate_not_chatted) }),
        h('div', { class: 'kpi-sub', text: `${conv.orders_not_chatted || 0} orders from ${conv.visitors_not_chatted || 0} visitors` })))));

  const bot = botSection(rep, money);
  if (bot) box.append(bot);

  const ops = rep.operators || [];
  box.append(h('section', { class: 'card report-section' }, h('h3', { text: 'Operators' }),
    ops.length ? table('report-operators', ['Operator', 'Conversations', 'Missed', 'First response (median / p90)', 'Duration', 'Online', 'Orders', 'Revenue', 'CSAT'], ops.map((o) => {
      const av = h('span', { class: 'avatar avatar-xs', 'aria-hidden': 'true' });
      fillAvatar(av, o.name || o.id, o.avatar, o.id);
      return {
        attrs: { 'data-sc': 'report-operator-row', 'data-operator': o.id || '' },
        cells: [h('span', { class: 'op-cell' }, av, h('span', { text: o.name || o.id || '' })), String(o.conversations || 0), String(o.missed || 0),
          `${secs(o.first_response_median)} / ${secs(o.first_response_p90)}`, secs(o.duration_median), secs(o.online_seconds), String(o.orders || 0),
          money(o.revenue || 0, cur), o.ratings ? `${pct(o.csat)} (${(o.rating_average || 0).toFixed(1)}, ${o.ratings})` : '—'],
      };
    })) : h('div', { class: 'list-empty', text: 'No operator activity in this range.' })));

  const trg = rep.triggers || [];
  box.append(h('section', { class: 'card report-section' }, h('h3', { text: 'Triggers' }),
    trg.length ? table('report-triggers', ['Trigger', 'Shown', 'Accepted', 'Acceptance', 'Orders', 'Revenue'], trg.map((t) => ({
      attrs: { 'data-sc': 'report-trigger-row', 'data-trigger': t.id || '' },
      cells: [t.name || t.id || '', String(t.shown || 0), String(t.accepted || 0), t.shown ? pct((t.accepted || 0) / t.shown) : '—', String(t.orders || 0), money(t.revenue || 0, cur)],
    }))) : h('div', { class: 'list-empty', text: 'No trigger fired in this range.' })));
}
