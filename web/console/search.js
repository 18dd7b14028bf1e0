// shopchat operator console: message search and its results.

import { byId, byteLength, fullTime, h, humanError, parseTime, shortTime, show } from './helpers.js';
import { S, visitorName } from './state.js';
import { toast } from './toasts.js';
import { request } from './connection.js';
import { openConv } from './panes.js';

export function doSearch(text) {
  text = text.trim();
  if (!text) {
    clearSearch();
    return;
  }
  if (byteLength(text) > 256) {
    toast('Search text is too long.', 'error');
    return;
  }
  S.searchHits = null;
  S.searchStatus = 'Searching…';
  show(byId('search-section'), true);
  const id = request({ type: 'search', text, limit: 30 }, (reply, err) => {
    if (S.searchId !== id) return;
    if (err) {
      S.searchStatus = err.silent ? 'Search interrupted — press Enter to try again.' : humanError(err.error, err.code);
      S.searchHits = [];
    } else {
      S.searchHits = reply.hits || [];
      S.searchStatus = S.searchHits.length ? '' : 'No conversations match.';
    }
    renderSearch();
  });
  S.searchId = id;
  renderSearch();
}

export function clearSearch() {
  S.searchId = null;
  S.searchHits = null;
  S.searchStatus = '';
  byId('search').value = '';
  show(byId('search-section'), false);
  byId('search-results').textContent = '';
}



function renderSearch() {
  const box = byId('search-results');
  box.textContent = '';
  if (S.searchStatus) box.append(h('div', { class: 'list-empty', text: S.searchStatus }));
  for (const hit of S.searchHits || []) {
    const m = hit.message || {};
    const t = parseTime(m.ts);
    const who = m.kind === 'visitor' ? (m.author && m.author.id ? visitorName({ visitor: m.author }) : 'Visitor')
      : m.kind === 'note' ? `Note by ${(m.author && m.author.name) || 'an operator'}`
        : m.kind === 'system' ? 'Event' : ((m.author && m.author.name) || 'Operator');
    const el = h('div', { class: 'item search-hit', 'data-sc': 'search-hit', 'data-conv': m.conv || '', 'data-seq': m.seq || '', tabindex: '0', role: 'button' },
      h('div', { class: 'item-main' },
        h('div', { class: 'item-top' }, h('span', { class: 'item-name', text: who }), h('time', { class: 'item-time', text: shortTime(t), title: fullTime(t) })),
        h('div', { class: 'hit-snippet', text: hit.snippet || m.text || '' })));
    const go = () => { if (m.conv) openConv(m.conv); };
    el.addEventListener('click', go);
    el.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') go(); });
    box.append(el);
  }
}
