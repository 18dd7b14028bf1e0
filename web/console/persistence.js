// shopchat operator console: drafts and unsent messages kept in sessionStorage
// across reloads.

import { STORE_KEY } from './config.js';
import { loadJSON, saveJSON } from './helpers.js';
import { S, getConv } from './state.js';
import { renderPending } from './outbox.js';

let persistTimer = 0;

// persist saves soon: typing saves once per pause, not per key.
export function persist() {
  clearTimeout(persistTimer);
  persistTimer = setTimeout(persistNow, 250);
}

// persistNow saves at once (the page is going away).
export function persistNow() {
  clearTimeout(persistTimer);
  if (!S.me) return;
  const drafts = {};
  for (const c of S.convs.values()) if (c.draft) drafts[c.id] = c.draft;
  saveJSON(sessionStorage, STORE_KEY, {
    me: S.me.id,
    outbox: S.outbox.map(({ id, conv, type, text, ts }) => ({ id, conv, type, text, ts })),
    drafts,
  });
}

export function restore() {
  const saved = loadJSON(sessionStorage, STORE_KEY);
  if (!saved || !S.me || saved.me !== S.me.id) return;
  for (const e of saved.outbox || []) {
    if (!e || typeof e.id !== 'string' || typeof e.conv !== 'string' || typeof e.text !== 'string') continue;
    if (S.outbox.some((o) => o.id === e.id)) continue;
    const entry = { id: e.id, conv: e.conv, type: e.type === 'note' ? 'note' : 'message', text: e.text, ts: e.ts || Date.now(), status: 'queued' };
    S.outbox.push(entry);
    renderPending(getConv(entry.conv), entry);
  }
  for (const [id, text] of Object.entries(saved.drafts || {})) {
    if (typeof text !== 'string') continue;
    const c = getConv(id);
    if (!c.draft) c.draft = text;
  }
}
