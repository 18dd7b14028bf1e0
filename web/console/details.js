// shopchat operator console: the visitor details column.

import { byId, compactTime, externalLink, fillAvatar, fullTime, h, humanError, money, parseTime, safeURL, shortTime, show, wideMQ } from './helpers.js';
import { S } from './state.js';
import { request } from './connection.js';

export function requestDetails(c, force) {
  if (!c || !S.ready) return;
  if (!force && c.detailsLoading) return;
  if (!force && c.details && Date.now() - c.detailsAt < 15000) return;
  c.detailsLoading = true;
  const f = { type: 'visitor', conv: c.id };
  const id = request(f, (reply, err) => {
    c.detailsLoading = false;
    if (reply && reply.details) {
      c.details = reply.details;
      c.detailsAt = Date.now();
    } else if (err && !err.silent) {
      c.detailsError = humanError(err.error, err.code);
    }
    renderDetails();
  });
  if (!id) c.detailsLoading = false;
  renderDetails();
}



export function renderDrawer() {
  const open = document.body.classList.contains('details-open') && !wideMQ.matches;
  show(byId('scrim'), open);
}

export function renderDetails() {
  // A focused empty pane (split view just opened) keeps showing the
  // other pane's visitor rather than nothing.
  const c = (S.focused && S.focused.conv) || (S.split ? (S.panes.find((p) => p.conv) || {}).conv : null);
  show(byId('details-empty'), !c);
  show(byId('visitor-panel'), !!c);
  show(byId('transfer-card'), !!(c && c.assignedToMe));
  if (!c) return;
  renderVisitor(c);
}

function renderVisitor(c) {
  const d = c.details;
  const st = c.state || {};
  const sig = [c.id, c.detailsAt, c.name, c.detailsLoading, st.department, st.created].join('|');
  const panel = byId('visitor-panel');
  if (panel.dataset.sig === sig) return;
  panel.dataset.sig = sig;
  const name = (d && d.name) || c.name;
  byId('v-name').textContent = name;
  fillAvatar(byId('v-avatar'), name, '', (d && d.id) || c.visitorId || c.id);
  const email = byId('v-email');
  email.textContent = (d && d.email) ? d.email + (d.email_bounces ? ' (bounces: no mail is sent)' : '') : '';
  email.classList.toggle('bounces', !!(d && d.email_bounces));
  email.hidden = !(d && d.email);
  show(byId('v-loading'), !d && c.detailsLoading);

  const labels = byId('v-labels');
  labels.textContent = '';
  for (const l of (d && d.labels) || []) labels.append(h('span', { class: 'chip', text: String(l) }));

  const facts = byId('v-facts');
  facts.textContent = '';
  const fact = (label, value, title) => {
    if (value === '' || value === null || value === undefined) return;
    facts.append(h('dt', { text: label }), h('dd', { text: String(value), title: title || undefined }));
  };
  const when = (label, d) => { if (d) fact(label, compactTime(d), fullTime(d)); };
  if (d) {
    fact('Customer ID', d.customer_id || '');
    if (d.cart_value || d.currency) fact('Cart', money(d.cart_value || 0, d.currency || ''));
    when('First seen', parseTime(d.first_seen));
    when('Last seen', parseTime(d.last_seen));
  }
  if (c.state && c.state.department) fact('Department', c.state.department);
  when('Chat started', c.state && parseTime(c.state.created));

  const page = byId('v-page');
  page.textContent = '';
  const hasPage = !!(d && d.page && d.page.url);
  if (hasPage) page.append(pageView(d.page));
  show(byId('v-page-block'), hasPage);

  const pages = byId('v-pages');
  pages.textContent = '';
  const list = (d && d.pages) || [];
  for (const pv of list.slice(0, 50)) if (pv && pv.url) pages.append(h('li', null, pageView(pv)));
  show(byId('v-pages-block'), pages.children.length > 0);

  const sections = byId('v-sections');
  sections.textContent = '';
  for (const sec of (d && d.sections) || []) {
    if (!sec) continue;
    const tbody = h('tbody');
    for (const row of sec.rows || []) {
      if (!row) continue;
      const td = h('td');
      if (row.url && safeURL(row.url)) td.append(externalLink(row.url, row.value || row.url));
      else td.textContent = row.value || '';
      tbody.append(h('tr', null, h('th', { scope: 'row', text: row.label || '' }), td));
    }
    sections.append(h('div', { class: 'v-block v-section', 'data-sc': 'visitor-section' },
      h('h3', { text: sec.title || '' }),
      h('table', { class: 'kv' }, tbody)));
  }
}

function pageView(pv) {
  const t = parseTime(pv.ts);
  return h('div', { class: 'pageview' },
    externalLink(pv.url, pv.title || pv.url),
    pv.title ? h('div', { class: 'pageview-url', text: pv.url }) : null,
    t ? h('time', { class: 'pageview-time', text: shortTime(t), title: fullTime(t) }) : null);
}
