// shopchat operator console: the console's state (S) and one conversation's
// (Conv).

import { PREF_KEY } from './config.js';
import { byId, h, loadJSON } from './helpers.js';
import { loadHistory } from './history.js';

export const prefs = Object.assign({ presence: 'online' }, loadJSON(localStorage, PREF_KEY) || {});

export const S = {
  me: null,
  ws: null,
  socketOpen: false,
  ready: false, // after synced
  everSynced: false,
  unauthorized: false,
  attempt: 0,
  syncedAt: 0,
  retryAt: 0,
  retryTimer: 0,
  convs: new Map(), // id -> Conv
  queue: [], // protocol.Conversation, FIFO: live visitors waiting for an operator
  replyWait: [], // protocol.Conversation, FIFO: waiting for a reply (the visitor is away)
  queueIds: new Set(),
  operators: [],
  canned: [],
  outbox: [], // {id, conv, type, text, ts, status, error}
  requests: new Map(), // frame id -> {type, conv, cb}
  panes: [],
  focused: null,
  split: false,
  searchId: null,
  searchHits: null,
  presence: prefs.presence === 'away' ? 'away' : 'online',
  tab: 'chats',
  live: [], // protocol.LiveVisitor: who is on the site now (the most relevant few hundred)
  liveById: new Map(), // the same by id, as visitors frames update it
  liveCounts: null, // protocol.LiveCounts: every visitor, listed or not
  triggers: null, // protocol.Trigger, once listed
  report: null,
};

class Conv {
  constructor(id) {
    this.id = id;
    this.state = null; // protocol.Conversation
    this.mine = false; // listed under My conversations
    this.epoch = null; // epoch of the messages held
    this.msgs = new Map(); // seq -> message
    this.maxSeq = 0;
    this.minSeq = 0;
    this.els = new Map(); // seq -> element
    this.pendingEls = new Map(); // client id -> element
    this.readSent = 0;
    this.draft = '';
    this.note = false;
    this.vTyping = false;
    this.vDraft = '';
    this.vTypingTimer = 0;
    this.opTyping = false;
    this.opTypingAt = 0;
    this.opTypingTimer = 0;
    this.details = null;
    this.detailsAt = 0;
    this.detailsLoading = false;
    this.more = false;
    this.historyLoading = false;
    this.historyLoaded = false;
    this.lastActivity = 0;
    this.scrollTop = null; // null: stick to the bottom
    this.seenEl = null;
    this.buildThread();
  }

  buildThread() {
    this.loadBtn = h('button', { type: 'button', class: 'load-earlier', hidden: true, text: 'Load earlier messages' });
    this.loadBtn.addEventListener('click', () => loadHistory(this, true));
    this.loadingEl = h('div', { class: 'thread-loading', hidden: true, text: 'Loading…' });
    this.msgList = h('div', { class: 'msgs' });
    this.pendingList = h('div', { class: 'pending-msgs' });
    this.thread = h('div', { class: 'thread', 'data-sc': 'thread', 'data-conv': this.id, hidden: true, role: 'log', 'aria-live': 'polite' },
      h('div', { class: 'thread-top' }, this.loadBtn, this.loadingEl),
      this.msgList, this.pendingList);
    this.thread.addEventListener('scroll', () => {
      if (this.thread.hidden) return;
      this.scrollTop = nearBottom(this.thread) ? null : this.thread.scrollTop;
    }, { passive: true });
    byId('thread-park').append(this.thread);
  }

  get status() { return this.state ? this.state.status : ''; }
  get assignedToMe() {
    return !!(this.state && S.me && this.state.status === 'assigned' && this.state.operator && this.state.operator.id === S.me.id);
  }
  get visitorId() { return this.state && this.state.visitor ? this.state.visitor.id : ''; }
  get name() { return visitorName(this.state, this.visitorId()); }
  visitorId() {
    if (this.state && this.state.visitor && this.state.visitor.id) return this.state.visitor.id;
    for (const m of this.msgs.values()) if (m.kind === 'visitor' && m.author && m.author.id) return m.author.id;
    return '';
  }
  readMark() { return Math.max(this.readSent, (this.state && this.state.operator_read) || 0); }
  unread() {
    if (!this.mine) return 0;
    const mark = this.readMark();
    let n = 0;
    for (const [seq, m] of this.msgs) if (seq > mark && m.kind === 'visitor') n++;
    return n;
  }
  lastMessage() {
    for (let s = this.maxSeq; s >= this.minSeq && s > 0; s--) {
      const m = this.msgs.get(s);
      if (m && m.kind !== 'system') return m;
    }
    return null;
  }
  pane() { return S.panes.find((p) => p.conv === this) || null; }
}

export function visitorName(state, fallbackId) {
  const v = state && state.visitor;
  if (v && v.name) return v.name;
  const id = (v && v.id) || fallbackId || '';
  return `Visitor ${id.slice(0, 4)}`;
}

export function getConv(id) {
  let c = S.convs.get(id);
  if (!c) {
    c = new Conv(id);
    S.convs.set(id, c);
  }
  return c;
}

export function nearBottom(el) {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 48;
}
