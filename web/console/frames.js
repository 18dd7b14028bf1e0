// shopchat operator console: frames from the server; handleFrame dispatches
// each by type.

import { applyBrand, humanError, splitMQ } from './helpers.js';
import { S, getConv, prefs, visitorName } from './state.js';
import { restore } from './persistence.js';
import { beep, desktopNotify } from './alerts.js';
import { toast } from './toasts.js';
import { renderConn, request, setBodyState } from './connection.js';
import { addMessage, dropMessages, renderSeen, setState, unlist } from './conversations.js';
import { loadHistory, onHistory } from './history.js';
import { requestDetails } from './details.js';
import { renderOutboxStatus, renderPending, transmit } from './outbox.js';
import { openConv, setSplit } from './panes.js';
import { announce, renderMe, scheduleRender } from './rendering.js';
import { renderCannedButtons, renderTeam } from './team.js';
import { onVisitors } from './visitors.js';
import { onCanned, setCanned } from './canned.js';
import { loadTriggers, renderTriggers } from './triggers.js';

export function handleFrame(f) {
  switch (f.type) {
    case 'welcome': onWelcome(f); break;
    case 'queue': onQueue(f.conversations || []); break;
    case 'operators': S.operators = f.operators || []; renderTeam(); break;
    case 'synced': onSynced(f); break;
    case 'message': if (f.message) addMessage(f.message, true); break;
    case 'ack': onAck(f); break;
    case 'state': if (f.conversation) setState(f.conversation, true); break;
    case 'typing': onTyping(f); break;
    case 'read': onRead(f); break;
    case 'history': onHistory(f); break;
    case 'search': case 'visitor': case 'answers': resolve(f); break;
    case 'visitors': onVisitors(f); resolve(f); break;
    case 'canned': onCanned(f); break;
    case 'triggers': S.triggers = f.triggers || []; resolve(f); renderTriggers(); break;
    case 'error': onError(f); break;
    default: break; // frames added later are skipped
  }
  scheduleRender();
}

function onWelcome(f) {
  const me = f.me || {};
  const first = !S.me;
  S.me = { id: me.id || '', name: me.name || me.id || 'Operator', avatar: me.avatar || '' };
  if (f.brand) applyBrand(f.brand);
  S.operators = f.operators || [];
  setCanned(f.canned);
  if (first) restore();
  const listed = new Set();
  for (const pc of f.conversations || []) {
    listed.add(pc.id);
    const c = getConv(pc.id);
    if (c.epoch !== null && c.epoch !== pc.epoch && c.msgs.size > 0) dropMessages(c);
    c.epoch = pc.epoch;
    setState(pc, false);
  }
  // Conversations we held that the server no longer knows are gone.
  for (const c of Array.from(S.convs.values())) {
    if (c.mine && c.assignedToMe && !listed.has(c.id)) {
      c.state = Object.assign({}, c.state, { status: 'closed', operator: undefined });
      unlist(c);
    }
  }
  renderMe();
  renderTeam();
  renderCannedButtons();
}

function onSynced() {
  S.ready = true;
  S.syncedAt = Date.now();
  if (!S.everSynced) S.attempt = 0;
  S.everSynced = true;
  setBodyState('ready');
  renderConn();
  // Resend what was not acked, with the same client ids.
  for (const e of S.outbox) {
    if (e.status === 'failed') continue;
    transmit(e);
  }
  renderOutboxStatus();
  request({ type: 'visitors' }, null, true); // then kept live by visitors frames
  if (S.tab === 'triggers') loadTriggers();
  if (!S.linkOpened) { // once: a reconnect must not pull the operator back
    S.linkOpened = true;
    openLinkedConv();
  }
  // Refresh what the panes show.
  for (const p of S.panes) {
    if (!p.conv) continue;
    if (!p.conv.mine || !p.conv.assignedToMe) loadHistory(p.conv, false);
    if (p === S.focused) requestDetails(p.conv, true);
  }
  if (S.split && !splitMQ.matches) setSplit(false);
}

// openLinkedConv opens the conversation a link names (#conv=<id>), as
// the team's notification mail links it.
function openLinkedConv() {
  const m = /^#conv=([0-9a-fA-F-]{36})$/.exec(location.hash);
  if (m && S.ready) openConv(m[1].toLowerCase());
}
window.addEventListener('hashchange', openLinkedConv);

// onQueue takes the queue frame: live visitors waiting for an operator,
// then conversations waiting for a reply (the visitor is away). A visitor
// who starts waiting alerts every online operator: sound (unless muted),
// the live region, and a desktop notification when the tab is hidden.
function onQueue(list) {
  const before = S.queueIds;
  const beforeLive = new Set(S.queue.map((c) => c.id));
  const all = list.filter((c) => c && c.id);
  S.queue = all.filter((c) => c.live);
  S.replyWait = all.filter((c) => !c.live);
  S.queueIds = new Set(all.map((c) => c.id));
  if (S.everSynced && S.ready && S.presence === 'online') {
    const fresh = S.queue.filter((c) => !beforeLive.has(c.id));
    if (fresh.length) {
      const who = visitorName(fresh[0], fresh[0].id);
      const text = fresh.length > 1 ? `${fresh.length} visitors are waiting` : `${who} is waiting`;
      if (prefs.sound !== false) beep();
      announce(text);
      if (document.hidden) desktopNotify('A visitor is waiting', text, fresh[0].id);
    }
  }
  for (const c of all) {
    const conv = S.convs.get(c.id);
    if (conv && !conv.mine) conv.state = Object.assign({}, conv.state || {}, c, { live: !!c.live });
  }
  // A previewed conversation that left the queue: refresh its state.
  for (const p of S.panes) {
    const c = p.conv;
    if (c && !c.mine && before.has(c.id) && !S.queueIds.has(c.id)) loadHistory(c, false);
  }
}

function onAck(f) {
  if (f.message) addMessage(f.message, true);
  resolve(f);
}

// resolve answers the request f replies to, if any.
export function resolve(f) {
  const r = f.id ? S.requests.get(f.id) : null;
  if (!r) return;
  S.requests.delete(f.id);
  if (r.cb) r.cb(f, null);
}

function onError(f) {
  const entry = f.id ? S.outbox.find((e) => e.id === f.id) : null;
  if (entry) {
    if (f.code === 'unavailable' || f.code === 'rate_limited') {
      entry.status = 'queued';
      entry.reconnecting = f.code === 'unavailable'; // the server's store is failing over: say so, keep the message
      setTimeout(() => { if (S.ready && S.outbox.includes(entry)) transmit(entry); }, 2000 + Math.random() * 2000);
    } else {
      entry.status = 'failed';
      entry.error = humanError(f.error, f.code);
      toast(entry.error, 'error');
    }
    renderPending(getConv(entry.conv), entry);
    return;
  }
  const r = f.id ? S.requests.get(f.id) : null;
  if (r) {
    S.requests.delete(f.id);
    if (r.cb) r.cb(null, f);
    if (r.quiet) return;
  }
  if (f.ref === 'typing' || f.ref === 'read') return; // incidental
  toast(humanError(f.error, f.code), 'error');
}

function onTyping(f) {
  if (f.from !== 'visitor' || !f.conv) return;
  const c = S.convs.get(f.conv);
  if (!c) return;
  clearTimeout(c.vTypingTimer);
  c.vTyping = !!f.typing;
  c.vDraft = f.typing && typeof f.draft === 'string' ? f.draft : '';
  if (c.vTyping) {
    c.vTypingTimer = setTimeout(() => {
      c.vTyping = false;
      c.vDraft = '';
      scheduleRender();
    }, 30000);
  }
}

function onRead(f) {
  const c = S.convs.get(f.conv);
  if (!c || !c.state) return;
  const seq = Number(f.seq) || 0;
  if (f.from === 'visitor') c.state.visitor_read = Math.max(c.state.visitor_read || 0, seq);
  else if (f.from === 'operator') c.state.operator_read = Math.max(c.state.operator_read || 0, seq);
  renderSeen(c);
}
