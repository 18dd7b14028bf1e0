// shopchat operator console: tabs.

import { byId, show } from './helpers.js';
import { S } from './state.js';
import { scheduleRender } from './rendering.js';
import { renderVisitors } from './visitors.js';
import { loadCanned, renderCannedList } from './canned.js';
import { loadTriggers, renderTriggers } from './triggers.js';
import { loadReport } from './reports.js';

export const TABS = ['chats', 'visitors', 'canned', 'triggers', 'reports'];

export function setTab(tab) {
  if (!TABS.includes(tab)) tab = 'chats';
  if (S.tab === tab) return;
  S.tab = tab;
  document.body.dataset.tab = tab;
  document.body.classList.toggle('tool', tab !== 'chats');
  for (const t of TABS) {
    byId(`tab-${t}`).setAttribute('aria-selected', String(t === tab));
    if (t !== 'chats') show(byId(`view-${t}`), t === tab);
  }
  show(byId('panes'), tab === 'chats');
  if (tab === 'visitors') renderVisitors();
  if (tab === 'canned') { renderCannedList(); loadCanned(); }
  if (tab === 'triggers') { renderTriggers(); loadTriggers(); }
  if (tab === 'reports' && !S.report) loadReport();
  scheduleRender();
}

// A small inline error next to a form (errors from the server included).
export function formError(id, text) {
  const el = byId(id);
  el.textContent = text || '';
  show(el, !!text);
}
