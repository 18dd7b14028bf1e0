// shopchat operator console: loading a conversation's history.

import { HISTORY_PAGE } from './config.js';
import { humanError } from './helpers.js';
import { S, getConv } from './state.js';
import { request } from './connection.js';
import { addMessage, dropMessages, scrollToBottom, setState, updateLoadEarlier } from './conversations.js';
import { scheduleRender } from './rendering.js';

export function loadHistory(c, earlier) {
  if (c.historyLoading || !S.ready) return;
  const f = { type: 'history', conv: c.id, limit: HISTORY_PAGE };
  if (earlier && c.minSeq > 1) f.before = c.minSeq;
  c.historyLoading = true;
  updateLoadEarlier(c);
  const keepBottom = !earlier;
  const prevHeight = c.thread.scrollHeight;
  const prevTop = c.thread.scrollTop;
  const id = request(f, (reply, err) => {
    c.historyLoading = false;
    if (err) {
      if (!err.silent) c.historyError = humanError(err.error, err.code);
    } else {
      c.historyLoaded = true;
      c.historyError = '';
    }
    updateLoadEarlier(c);
    scheduleRender();
    if (!err && earlier && !c.thread.hidden) {
      c.thread.scrollTop = prevTop + (c.thread.scrollHeight - prevHeight);
    } else if (!err && keepBottom && !c.thread.hidden && c.scrollTop === null) {
      scrollToBottom(c);
    }
  });
  if (!id) {
    c.historyLoading = false;
    updateLoadEarlier(c);
  }
}

export function onHistory(f) {
  const r = f.id ? S.requests.get(f.id) : null;
  const pc = f.conversation;
  const convId = (pc && pc.id) || f.conv;
  if (convId) {
    const c = getConv(convId);
    if (pc) {
      if (c.epoch !== null && c.epoch !== pc.epoch) {
        dropMessages(c);
        c.epoch = pc.epoch;
      }
      // History frames do not move a conversation in or out of my list
      // unless it is assigned to me now.
      if (!c.mine || pc.status !== 'assigned' || c.assignedToMe) setState(pc, false);
    }
    for (const m of f.messages || []) addMessage(m, false);
    const msgs = f.messages || [];
    if (msgs.length === 0 || msgs[0].seq <= 1) c.more = false;
    else c.more = !!f.more || msgs[0].seq > 1;
    updateLoadEarlier(c);
  }
  if (r) {
    S.requests.delete(f.id);
    if (r.cb) r.cb(f, null);
  }
}
