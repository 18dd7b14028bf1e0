// shopchat operator console: the outbox: messages on their way, or kept until
// the connection is back.

import { appendLinkified, h, uid } from './helpers.js';
import { S, getConv } from './state.js';
import { persist } from './persistence.js';
import { sendFrame } from './connection.js';
import { scrollToBottom } from './conversations.js';

export function enqueue(c, type, text, silent) {
  const entry = { id: uid(), conv: c.id, type, text, ts: Date.now(), status: 'queued', silent: !!silent };
  S.outbox.push(entry);
  persist();
  // Connected: straight to the wire, so no "waiting for connection" line
  // flashes into the thread (a live region) first.
  if (S.ready) transmit(entry);
  else renderPending(c, entry);
  scrollToBottom(c);
  return entry;
}

export function transmit(e) {
  if (sendFrame({ type: e.type, id: e.id, conv: e.conv, text: e.text, silent: e.silent || undefined })) e.status = 'sent';
  else e.status = 'queued';
  e.error = '';
  renderPending(getConv(e.conv), e);
}

const slowSends = new WeakMap(); // outbox entry -> timer of its "Sending…"
export function renderPending(c, e) {
  let el = c.pendingEls.get(e.id);
  if (!S.outbox.includes(e)) {
    if (el) el.remove();
    c.pendingEls.delete(e.id);
    return;
  }
  if (!el) {
    const text = h('div', { class: 'msg-text' });
    appendLinkified(text, e.text);
    const bubble = h('div', { class: 'msg-bubble' });
    if (e.type === 'note') bubble.append(h('div', { class: 'note-label', text: 'Internal note' }));
    bubble.append(text);
    el = h('div', { class: `msg msg-${e.type === 'note' ? 'note' : 'operator'} msg-pending`, 'data-sc': 'pending', 'data-cid': e.id },
      h('div', { class: 'msg-meta' }, h('span', { class: 'msg-author', text: (S.me && S.me.name) || 'You' })),
      bubble,
      h('div', { class: 'pending-status' }));
    c.pendingEls.set(e.id, el);
    c.pendingList.append(el);
  }
  const status = el.querySelector('.pending-status');
  status.textContent = '';
  el.classList.toggle('msg-failed', e.status === 'failed');
  if (e.status === 'failed') {
    status.append(
      h('span', { text: `Not sent: ${e.error || 'error'}` }), ' ',
      h('button', { type: 'button', class: 'link-btn', text: 'Retry', onclick: () => { e.status = 'queued'; if (S.ready) transmit(e); else renderPending(c, e); } }), ' ',
      h('button', { type: 'button', class: 'link-btn', text: 'Discard', onclick: () => { S.outbox = S.outbox.filter((x) => x !== e); persist(); renderPending(c, e); } }));
  } else if (e.reconnecting) {
    status.textContent = 'Reconnecting… will send automatically';
  } else if (e.status === 'sent' && S.ready) {
    // Only a slow send says so: an ordinary one is acked before anyone
    // (or a screen reader) would notice.
    clearTimeout(slowSends.get(e));
    slowSends.set(e, setTimeout(() => {
      if (S.outbox.includes(e) && e.status === 'sent') status.textContent = 'Sending…';
    }, 1500));
  } else {
    status.textContent = 'Waiting for connection — will send automatically';
  }
}

export function renderOutboxStatus() {
  for (const e of S.outbox) renderPending(getConv(e.conv), e);
}
