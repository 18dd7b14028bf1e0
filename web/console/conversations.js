// shopchat operator console: a conversation's state and its messages in the
// thread.

import { appendLinkified, fullTime, h, parseTime, shortTime, show } from './helpers.js';
import { S, getConv, nearBottom, visitorName } from './state.js';
import { persist } from './persistence.js';
import { beep, desktopNotify } from './alerts.js';
import { isInView } from './panes.js';
import { announce } from './rendering.js';
import { setTab } from './tabs.js';
import { openCannedEditor } from './canned.js';
import { attachmentsEl } from './attachments.js';
import { markButton } from './answers.js';

// setState applies a conversation's state. live is false for welcome.
export function setState(pc, live) {
  const c = getConv(pc.id);
  const prev = c.state;
  if (c.epoch === null) c.epoch = pc.epoch;
  c.state = Object.assign({}, pc);
  if (prev) {
    // Read receipts only move forward.
    c.state.visitor_read = Math.max(prev.visitor_read || 0, pc.visitor_read || 0);
    c.state.operator_read = Math.max(prev.operator_read || 0, pc.operator_read || 0);
  }
  if (!c.lastActivity) c.lastActivity = (parseTime(pc.created) || new Date()).getTime();
  const mineNow = c.assignedToMe;
  if (mineNow && !c.mine) {
    c.mine = true;
    if (live) c.lastActivity = Math.max(c.lastActivity, Date.now());
    if (live && S.everSynced) {
      const requested = Array.from(S.requests.values()).some((r) => r.conv === c.id && (r.type === 'accept' || r.type === 'reopen'));
      if (!requested) announceNewConversation(c, prev);
    }
  } else if (!mineNow && c.mine && pc.status !== 'closed') {
    // Transferred to someone else or back to the queue.
    unlist(c);
  }
  renderSeen(c);
  if (S.queueIds.has(c.id) && pc.status !== 'queued') {
    S.queueIds.delete(c.id);
    S.queue = S.queue.filter((q) => q.id !== c.id);
    S.replyWait = S.replyWait.filter((q) => q.id !== c.id);
  }
}

function announceNewConversation(c, prev) {
  const last = c.lastMessage();
  const wasOther = prev && prev.status === 'assigned' && prev.operator && S.me && prev.operator.id !== S.me.id;
  const title = wasOther ? `${c.name} was transferred to you` : `New conversation: ${c.name}`;
  announce(title);
  if (!isInView(c)) {
    beep();
    desktopNotify(title, last ? last.text : '', c.id);
  }
}

// unlist removes a conversation from My conversations; a pane showing it
// keeps it, read-only.
export function unlist(c) {
  c.mine = false;
  c.vTyping = false;
  c.vDraft = '';
}

export function dropMessages(c) {
  c.msgs.clear();
  c.els.clear();
  c.maxSeq = 0;
  c.minSeq = 0;
  c.readSent = 0;
  c.msgList.textContent = '';
  c.seenEl = null;
  c.more = false;
}

// addMessage stores a message (keyed by conversation and seq) and renders
// it once. live marks messages from message frames and acks.
export function addMessage(m, live) {
  if (!m || !m.conv || !(m.seq > 0)) return;
  const c = getConv(m.conv);
  if (m.cid) {
    const i = S.outbox.findIndex((e) => e.id === m.cid && e.conv === m.conv);
    if (i >= 0) {
      S.outbox.splice(i, 1);
      const el = c.pendingEls.get(m.cid);
      if (el) el.remove();
      c.pendingEls.delete(m.cid);
      persist();
    }
  }
  if (c.msgs.has(m.seq)) return;
  c.msgs.set(m.seq, m);
  const isNew = m.seq > c.maxSeq;
  c.maxSeq = Math.max(c.maxSeq, m.seq);
  c.minSeq = c.minSeq ? Math.min(c.minSeq, m.seq) : m.seq;
  if (c.state && m.seq > (c.state.last_seq || 0)) c.state.last_seq = m.seq;
  const t = parseTime(m.ts);
  if (t && isNew) c.lastActivity = Math.max(c.lastActivity, t.getTime());
  insertMessageEl(c, m);
  if (m.kind === 'visitor' && isNew) {
    clearTimeout(c.vTypingTimer);
    c.vTyping = false;
    c.vDraft = '';
  }
  if (live && isNew && m.kind === 'visitor' && c.mine && S.everSynced && m.seq > c.readMark() && !isInView(c)) {
    beep();
    desktopNotify(`${c.name}`, m.text, c.id);
  }
  if (m.kind === 'operator' || m.kind === 'visitor') renderSeen(c);
}

function messageEl(c, m) {
  const kind = ['visitor', 'operator', 'note', 'system', 'bot'].includes(m.kind) ? m.kind : 'system';
  const t = parseTime(m.ts);
  const time = h('time', { class: 'msg-time', text: shortTime(t), title: fullTime(t), datetime: t ? t.toISOString() : undefined });
  const text = h('div', { class: 'msg-text', 'data-sc': 'text' });
  appendLinkified(text, String(m.text || ''));
  let author = '';
  if (kind === 'visitor') author = m.author && m.author.id ? visitorName({ visitor: m.author }) : c.name;
  else if (kind !== 'system') author = (m.author && (m.author.name || m.author.id)) || 'Operator';
  const authorEl = h('span', { class: 'msg-author', 'data-sc': 'author', text: author, hidden: kind === 'system' });
  const el = h('div', { class: `msg msg-${kind}`, 'data-sc': 'message', 'data-kind': kind, 'data-seq': m.seq });
  if (kind === 'system') {
    el.append(h('div', { class: 'msg-system-line' }, authorEl, text, time));
    return el;
  }
  const bubble = h('div', { class: 'msg-bubble' });
  if (kind === 'note') bubble.append(h('div', { class: 'note-label', text: 'Internal note' }));
  if (m.text || !m.attachments) bubble.append(text);
  if (m.attachments) bubble.append(attachmentsEl(m.attachments));
  if (kind === 'bot') authorEl.append(h('span', { class: 'bot-tag', text: 'Bot' }));
  el.append(h('div', { class: 'msg-meta' }, authorEl, time), bubble);
  if (kind === 'operator') el.append(markButton(c, m));
  if (kind === 'operator') {
    // The team's knowledge grows from its chats: a good answer becomes a canned response.
    el.append(h('button', { type: 'button', class: 'link-btn msg-action', 'data-sc': 'save-canned', text: 'Save as canned', title: 'Save this answer as a canned response',
      onclick: () => { setTab('canned'); openCannedEditor({ text: String(m.text || '') }); } }));
  }
  el.dataset.author = (m.author && m.author.id) || kind;
  return el;
}

function insertMessageEl(c, m) {
  const pane = c.pane();
  const stick = pane && !c.thread.hidden && nearBottom(c.thread);
  const el = messageEl(c, m);
  c.els.set(m.seq, el);
  // Find the first rendered message with a higher seq.
  let next = null;
  if (m.seq < c.maxSeq) {
    for (const child of c.msgList.children) {
      if (Number(child.dataset.seq) > m.seq) { next = child; break; }
    }
  }
  c.msgList.insertBefore(el, next);
  groupWithNeighbours(el);
  if (next) groupWithNeighbours(next);
  if (pane && !c.thread.hidden) {
    const mineOwn = m.kind === 'operator' || m.kind === 'note';
    if (stick || (mineOwn && m.author && S.me && m.author.id === S.me.id)) scrollToBottom(c);
  }
  updateLoadEarlier(c);
}

// groupWithNeighbours hides the meta line of a message that follows one
// by the same author within five minutes.
function groupWithNeighbours(el) {
  const prev = el.previousElementSibling;
  let grouped = false;
  if (prev && el.dataset.kind !== 'system' && prev.dataset.kind === el.dataset.kind && prev.dataset.author === el.dataset.author) {
    const a = prev.querySelector('time');
    const b = el.querySelector('time');
    const ta = a && a.getAttribute('datetime') ? Date.parse(a.getAttribute('datetime')) : 0;
    const tb = b && b.getAttribute('datetime') ? Date.parse(b.getAttribute('datetime')) : 0;
    grouped = Math.abs(tb - ta) < 5 * 60 * 1000;
  }
  el.classList.toggle('grouped', grouped);
}

export function scrollToBottom(c) {
  c.scrollTop = null;
  c.thread.scrollTop = c.thread.scrollHeight;
}

export function updateLoadEarlier(c) {
  const earlier = c.minSeq > 1 || (c.more && c.msgs.size > 0);
  show(c.loadBtn, earlier && !c.historyLoading);
  show(c.loadingEl, c.historyLoading);
}

export function renderSeen(c) {
  // "Seen" under our last message once the visitor has read it.
  let lastOp = 0;
  for (let s = c.maxSeq; s >= c.minSeq && s > 0; s--) {
    const m = c.msgs.get(s);
    if (m && m.kind === 'operator') { lastOp = s; break; }
  }
  const vr = (c.state && c.state.visitor_read) || 0;
  const el = lastOp && vr >= lastOp ? c.els.get(lastOp) : null;
  if (!el) {
    if (c.seenEl) c.seenEl.remove();
    return;
  }
  if (!c.seenEl) c.seenEl = h('div', { class: 'seen', text: 'Seen' });
  if (c.seenEl.parentNode !== el) el.append(c.seenEl);
}
