// shopchat operator console: plain ES2020, no build step, no dependencies.
//
// Security: every piece of text that comes from the server (visitor names,
// messages, page URLs and titles, shop data) is attacker-controlled. It is
// put into the page only with textContent / createTextNode, never as HTML,
// and links are made only for absolute http(s) URLs. The console runs under
// a strict CSP (no inline scripts or styles), so styling is done by classes.
'use strict';

(() => {
  // ---------------------------------------------------------------- setup

  const TITLE = 'shopchat console';
  const MAX_TEXT_BYTES = 4000;
  const HISTORY_PAGE = 50;
  const STORE_KEY = 'shopchat.console.v1';
  const PREF_KEY = 'shopchat.console.prefs';

  const mount = (() => {
    const p = location.pathname;
    const i = p.lastIndexOf('/console/');
    if (i >= 0) return p.slice(0, i + 1);
    if (p.endsWith('/console')) return p.slice(0, -'console'.length);
    return '/chat/';
  })();
  const socketURL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + mount + 'operator/ws';
  const probeURL = mount + 'operator/ws';

  // ---------------------------------------------------------------- helpers

  const byId = (id) => document.getElementById(id);

  // h builds an element. attrs: class, text, hidden, data-*, aria-*, on<event>
  // handlers and plain attributes. Children are nodes or strings (as text).
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (v === true) el.setAttribute(k, '');
        else el.setAttribute(k, String(v));
      }
    }
    for (const kid of kids) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(typeof kid === 'string' ? document.createTextNode(kid) : kid);
    }
    return el;
  }

  function show(el, on) {
    if (el) el.hidden = !on;
  }

  function uid() {
    if (window.crypto && typeof crypto.randomUUID === 'function') {
      try { return crypto.randomUUID(); } catch (_) { /* insecure context */ }
    }
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const x = Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  }

  const encoder = new TextEncoder();
  const byteLength = (s) => encoder.encode(s).length;

  // safeURL returns the normalised URL if s is an absolute http(s) URL.
  function safeURL(s) {
    if (typeof s !== 'string' || s === '') return null;
    try {
      const u = new URL(s);
      if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
    } catch (_) { /* not a URL */ }
    return null;
  }

  function externalLink(url, text) {
    const href = safeURL(url);
    if (!href) return h('span', { text: text || url || '' });
    return h('a', { href, target: '_blank', rel: 'noopener noreferrer', text: text || url });
  }

  // appendLinkified appends text to el, turning http(s) URLs into links.
  const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  function appendLinkified(el, text) {
    let last = 0;
    text.replace(URL_RE, (match, offset) => {
      let url = match;
      // Leave trailing punctuation outside the link.
      while (/[.,;:!?)\]}'"]$/.test(url)) {
        if (url.endsWith(')') && url.split('(').length > url.split(')').length - 1) break;
        url = url.slice(0, -1);
      }
      if (offset > last) el.append(document.createTextNode(text.slice(last, offset)));
      if (safeURL(url)) el.append(externalLink(url, url));
      else el.append(document.createTextNode(url));
      last = offset + url.length;
      return match;
    });
    if (last < text.length) el.append(document.createTextNode(text.slice(last)));
  }

  function parseTime(ts) {
    if (!ts) return null;
    const d = new Date(ts);
    if (isNaN(d.getTime()) || d.getUTCFullYear() < 1971) return null;
    return d;
  }

  const fmtClock = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
  const fmtDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
  const fmtFull = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const fmtCompact = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
  const fmtCompactYear = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

  function shortTime(d) {
    if (!d) return '';
    const now = new Date();
    if (d.toDateString() === now.toDateString()) return fmtClock.format(d);
    return fmtDay.format(d);
  }

  function fullTime(d) {
    return d ? fmtFull.format(d) : '';
  }

  function compactTime(d) {
    if (!d) return '';
    if (d.getFullYear() !== new Date().getFullYear()) return fmtCompactYear.format(d);
    return fmtCompact.format(d);
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return `${seconds}s`;
    const m = Math.floor(seconds / 60);
    if (m < 60) return `${m}m`;
    const hrs = Math.floor(m / 60);
    if (hrs < 24) return `${hrs}h ${m % 60}m`;
    return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
  }

  function money(minor, currency) {
    minor = Number(minor) || 0;
    if (currency) {
      try {
        const nf = new Intl.NumberFormat(undefined, { style: 'currency', currency });
        const digits = nf.resolvedOptions().maximumFractionDigits;
        return nf.format(minor / Math.pow(10, digits));
      } catch (_) { /* unknown currency code */ }
      return `${(minor / 100).toFixed(2)} ${currency}`;
    }
    return (minor / 100).toFixed(2);
  }

  // applyBrand makes the shop's brand colour the console's accent, darkened
  // until white text on it (and it as text on white) reads at 4.5:1.
  function applyBrand(hex) {
    const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(hex || '');
    if (!m) return;
    const x = m[1].length === 3 ? m[1].replace(/./g, '$&$&') : m[1];
    const base = [0, 2, 4].map((i) => parseInt(x.slice(i, i + 2), 16));
    const lum = (c) => c.map((v) => v / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
    const ratio = (a, b) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
    const mix = (c, d, f) => c.map((v, i) => Math.round(v + (d[i] - v) * f));
    const css = (c) => `rgb(${c.join(',')})`;
    const white = [255, 255, 255], panelDark = [23, 29, 38];
    let accent = base;
    while (ratio(accent, white) < 4.6) accent = mix(accent, [0, 0, 0], 0.08);
    const weakDark = mix(base, panelDark, 0.82);
    let darkText = base; // readable on the dark panel and on the dark accent-weak
    while (ratio(darkText, weakDark) < 4.6) darkText = mix(darkText, white, 0.08);
    // Custom properties the stylesheet's light and dark :root pick from (the CSP allows no <style>).
    const set = (k, c) => document.documentElement.style.setProperty(k, css(c));
    set('--brand-accent', accent);
    set('--brand-hover', mix(accent, [0, 0, 0], 0.15));
    set('--brand-weak', mix(base, white, 0.9));
    set('--brand-text', mix(accent, [0, 0, 0], 0.2));
    set('--brand-weak-dark', weakDark);
    set('--brand-text-dark', darkText);
  }

  function humanError(text, code) {
    if (code === 'capacity' && !text) text = 'You are at capacity';
    if (!text) text = code ? `Something went wrong (${code})` : 'Something went wrong';
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function hashIndex(s, n) {
    let x = 0;
    for (let i = 0; i < s.length; i++) x = (x * 31 + s.charCodeAt(i)) | 0;
    return Math.abs(x) % n;
  }

  function initials(name) {
    const words = String(name || '').trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return '?';
    const first = Array.from(words[0])[0] || '';
    const second = words.length > 1 ? (Array.from(words[words.length - 1])[0] || '') : '';
    return (first + second).toUpperCase();
  }

  // fillAvatar renders an avatar into el: the image when it is an http(s)
  // URL, else initials on a colour chosen from the key.
  function fillAvatar(el, name, url, key) {
    const src = safeURL(url);
    const sig = `${name}|${src}|${key}`;
    if (el.dataset.sig === sig) return;
    el.dataset.sig = sig;
    el.textContent = '';
    el.className = el.className.replace(/\bav-\d\b/g, '').trim();
    el.classList.add(`av-${hashIndex(key || name || '', 8)}`);
    if (src) {
      const img = h('img', { src, alt: '', referrerpolicy: 'no-referrer', loading: 'lazy', decoding: 'async' });
      img.addEventListener('error', () => { img.remove(); el.textContent = initials(name); }, { once: true });
      el.append(img);
    } else {
      el.textContent = initials(name);
    }
  }

  const narrowMQ = window.matchMedia('(max-width: 719px)');
  const wideMQ = window.matchMedia('(min-width: 1200px)');
  const splitMQ = window.matchMedia('(min-width: 1280px)');

  function loadJSON(storage, key) {
    try { return JSON.parse(storage.getItem(key) || 'null'); } catch (_) { return null; }
  }
  function saveJSON(storage, key, value) {
    try { storage.setItem(key, JSON.stringify(value)); } catch (_) { /* full or disabled */ }
  }

  // ---------------------------------------------------------------- state

  const prefs = Object.assign({ presence: 'online' }, loadJSON(localStorage, PREF_KEY) || {});

  const S = {
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
    live: [], // protocol.LiveVisitor: who is on the site now
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

  function visitorName(state, fallbackId) {
    const v = state && state.visitor;
    if (v && v.name) return v.name;
    const id = (v && v.id) || fallbackId || '';
    return `Visitor ${id.slice(0, 4)}`;
  }

  function getConv(id) {
    let c = S.convs.get(id);
    if (!c) {
      c = new Conv(id);
      S.convs.set(id, c);
    }
    return c;
  }

  function nearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 48;
  }

  // ---------------------------------------------------------------- persistence

  let persistTimer = 0;
  function persist() {
    clearTimeout(persistTimer);
    persistTimer = setTimeout(() => {
      if (!S.me) return;
      const drafts = {};
      for (const c of S.convs.values()) if (c.draft) drafts[c.id] = c.draft;
      saveJSON(sessionStorage, STORE_KEY, {
        me: S.me.id,
        outbox: S.outbox.map(({ id, conv, type, text, ts }) => ({ id, conv, type, text, ts })),
        drafts,
      });
    }, 250);
  }

  function restore() {
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

  // ---------------------------------------------------------------- sound and notifications

  let audioCtx = null;
  let lastBeep = 0;
  function unlockAudio() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return;
    try {
      if (!audioCtx) audioCtx = new AC();
      if (audioCtx.state === 'suspended') audioCtx.resume().catch(() => {});
    } catch (_) { audioCtx = null; }
  }
  document.addEventListener('pointerdown', unlockAudio, { passive: true });
  document.addEventListener('keydown', unlockAudio);

  function beep() {
    const now = Date.now();
    if (!audioCtx || audioCtx.state !== 'running' || now - lastBeep < 1500) return;
    lastBeep = now;
    const t = audioCtx.currentTime;
    const tone = (freq, start, len) => {
      const o = audioCtx.createOscillator();
      const g = audioCtx.createGain();
      o.type = 'sine';
      o.frequency.setValueAtTime(freq, t + start);
      g.gain.setValueAtTime(0.0001, t + start);
      g.gain.exponentialRampToValueAtTime(0.12, t + start + 0.015);
      g.gain.exponentialRampToValueAtTime(0.0001, t + start + len);
      o.connect(g);
      g.connect(audioCtx.destination);
      o.start(t + start);
      o.stop(t + start + len + 0.02);
    };
    tone(880, 0, 0.14);
    tone(1320, 0.11, 0.2);
  }

  function canNotify() {
    return 'Notification' in window && Notification.permission === 'granted';
  }

  function desktopNotify(title, body, convId) {
    if (!canNotify()) return;
    try {
      const n = new Notification(title, { body: String(body || '').slice(0, 160), tag: convId ? `shopchat-${convId}` : 'shopchat', icon: 'icon.svg' });
      n.onclick = () => {
        window.focus();
        if (convId) openConv(convId);
        n.close();
      };
    } catch (_) { /* some platforms only allow service-worker notifications */ }
  }

  function renderNotifyButton() {
    const btn = byId('notify-btn');
    show(btn, 'Notification' in window && Notification.permission === 'default');
  }

  byId('notify-btn').addEventListener('click', () => {
    if (!('Notification' in window)) return;
    const p = Notification.requestPermission((r) => renderNotifyButton());
    if (p && typeof p.then === 'function') p.then(renderNotifyButton, renderNotifyButton);
  });

  // ---------------------------------------------------------------- toasts

  function toast(text, kind) {
    const box = byId('toasts');
    const el = h('div', { class: `toast${kind ? ' toast-' + kind : ''}`, text });
    box.append(el);
    while (box.children.length > 4) box.firstChild.remove();
    setTimeout(() => {
      el.classList.add('toast-out');
      setTimeout(() => el.remove(), 300);
    }, kind === 'error' ? 6000 : 3500);
  }

  // ---------------------------------------------------------------- connection

  function setBodyState(state) {
    document.body.dataset.state = state;
  }

  function sendFrame(f) {
    if (!S.ws || S.ws.readyState !== WebSocket.OPEN) return false;
    S.ws.send(JSON.stringify(f));
    return true;
  }

  // request sends a frame with a fresh id and calls cb(frame, error) with its
  // answer (ack or the typed reply, or an error frame).
  // quiet requests show their errors themselves (next to a form).
  function request(f, cb, quiet) {
    if (!S.ready) {
      toast('Not connected yet — try again in a moment.', 'error');
      return null;
    }
    f.id = uid();
    S.requests.set(f.id, { type: f.type, conv: f.conv, cb: cb || null, quiet: !!quiet });
    if (!sendFrame(f)) {
      S.requests.delete(f.id);
      toast('Not connected — try again in a moment.', 'error');
      return null;
    }
    return f.id;
  }

  function connect() {
    clearTimeout(S.retryTimer);
    S.retryTimer = 0;
    if (S.unauthorized) return;
    if (S.ws) return;
    setBodyState('connecting');
    renderConn();
    let ws;
    try {
      ws = new WebSocket(socketURL);
    } catch (_) {
      scheduleReconnect();
      return;
    }
    S.ws = ws;
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      S.socketOpen = true;
      const resume = [];
      for (const c of S.convs.values()) {
        if (!c.mine || !c.assignedToMe || c.epoch === null) continue;
        resume.push({ conv: c.id, seq: c.maxSeq, epoch: c.epoch });
      }
      const hello = { v: 1, type: 'hello', status: S.presence };
      if (resume.length) hello.resume = resume;
      ws.send(JSON.stringify(hello));
      renderConn();
    });
    ws.addEventListener('message', (ev) => {
      if (S.ws !== ws) return;
      let f;
      try { f = JSON.parse(ev.data); } catch (_) { return; }
      if (f && typeof f === 'object' && typeof f.type === 'string') handleFrame(f);
    });
    ws.addEventListener('close', (ev) => {
      if (S.ws !== ws) return;
      S.ws = null;
      S.socketOpen = false;
      const wasReady = S.ready;
      S.ready = false;
      failRequests();
      for (const c of S.convs.values()) {
        c.opTyping = false;
        clearTimeout(c.opTypingTimer);
      }
      renderOutboxStatus();
      if (!opened) {
        probeAuth();
      } else {
        // A session that lasted resets the backoff; one that keeps dropping
        // right after it synced does not.
        const lasted = wasReady && Date.now() - S.syncedAt > 10000;
        if (lasted) S.attempt = 0;
        if (ev.code === 1008) S.attempt = Math.max(S.attempt, 4); // policy: do not hammer
        scheduleReconnect(lasted || (wasReady && S.attempt === 0));
      }
      setBodyState(S.unauthorized ? 'unauthorized' : 'connecting');
      scheduleRender();
    });
    ws.addEventListener('error', () => { /* close follows */ });
  }

  // probeAuth tells a refused handshake (401: log in) from a network error.
  function probeAuth() {
    fetch(probeURL, { credentials: 'same-origin', cache: 'no-store', redirect: 'manual' }).then((r) => {
      if (r.status === 401) {
        unauthorized();
      } else {
        scheduleReconnect();
      }
    }, () => scheduleReconnect());
  }

  function unauthorized() {
    S.unauthorized = true;
    clearTimeout(S.retryTimer);
    setBodyState('unauthorized');
    byId('login-link').href = location.href;
    show(byId('login-overlay'), true);
    renderConn();
  }

  function scheduleReconnect(immediateOK) {
    if (S.unauthorized) return;
    clearTimeout(S.retryTimer);
    const base = Math.min(30000, 500 * Math.pow(2, S.attempt));
    // Full jitter, but never sooner than a quarter of the step.
    let delay = base * (0.25 + Math.random() * 0.75);
    if (immediateOK && S.attempt === 0) delay = 150 + Math.random() * 500;
    S.attempt = Math.min(S.attempt + 1, 10);
    S.retryAt = Date.now() + delay;
    S.retryTimer = setTimeout(connect, delay);
    renderConn();
  }

  function reconnectNow() {
    if (S.ws || S.unauthorized) return;
    S.attempt = 0;
    connect();
  }

  window.addEventListener('online', reconnectNow);
  byId('conn-retry').addEventListener('click', reconnectNow);

  function failRequests() {
    const pending = Array.from(S.requests.values());
    S.requests.clear();
    for (const r of pending) {
      if (r.cb) r.cb(null, { code: 'disconnected', error: 'disconnected', silent: true });
    }
  }

  let connTicker = 0;
  function renderConn() {
    const banner = byId('conn-banner');
    const text = byId('conn-text');
    const retry = byId('conn-retry');
    clearInterval(connTicker);
    connTicker = 0;
    if (S.ready || S.unauthorized) {
      show(banner, false);
      return;
    }
    show(banner, true);
    const update = () => {
      if (S.ws) {
        text.textContent = S.everSynced ? 'Reconnecting…' : 'Connecting…';
        show(retry, false);
      } else {
        const secs = Math.max(0, Math.ceil((S.retryAt - Date.now()) / 1000));
        text.textContent = secs > 0 ? `Offline — retrying in ${secs}s` : 'Reconnecting…';
        show(retry, secs > 1);
      }
    };
    update();
    connTicker = setInterval(update, 1000);
  }

  // ---------------------------------------------------------------- frames

  function handleFrame(f) {
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
      case 'search': case 'visitor': resolve(f); break;
      case 'visitors': S.live = f.live || []; resolve(f); renderVisitors(); break;
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
  function resolve(f) {
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

  // ---------------------------------------------------------------- conversations

  // setState applies a conversation's state. live is false for welcome.
  function setState(pc, live) {
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
  function unlist(c) {
    c.mine = false;
    c.vTyping = false;
    c.vDraft = '';
  }

  function dropMessages(c) {
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
  function addMessage(m, live) {
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
    const kind = ['visitor', 'operator', 'note', 'system'].includes(m.kind) ? m.kind : 'system';
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
    el.append(h('div', { class: 'msg-meta' }, authorEl, time), bubble);
    if (kind === 'operator') {
      // The team's knowledge grows from its chats: a good answer becomes a canned response.
      el.append(h('button', { type: 'button', class: 'link-btn msg-action', 'data-sc': 'save-canned', text: 'Save as canned', title: 'Save this answer as a canned response',
        onclick: () => { setTab('canned'); openCannedEditor({ text: String(m.text || '') }); } }));
    }
    el.dataset.author = (m.author && m.author.id) || kind;
    return el;
  }

  // attachmentsEl shows a message's files: images as thumbnails that open
  // full size, others as download links. The console authenticates as an
  // operator with ?role=operator (same login as its socket).
  function attachmentsEl(as) {
    return h('div', { class: 'msg-files' }, ...as.map((a) => {
      const url = mount + 'attachments/' + encodeURIComponent(String(a.id || '')) + '?role=operator';
      const name = String(a.name || 'file');
      return /^image\//.test(a.type)
        ? h('a', { href: url, target: '_blank', rel: 'noopener', 'data-sc': 'attachment', 'aria-label': `Open ${name} full size` }, h('img', { class: 'msg-thumb', src: url, alt: name, loading: 'lazy' }))
        : h('a', { href: url + '&download=1', download: name, class: 'msg-file', 'data-sc': 'attachment', text: `${name} (${Math.max(1, Math.round((a.size || 0) / 1024))} KB)` });
    }));
  }

  // uploadFiles uploads files for conversation c and sends each, once
  // stored, as a message (or a note, with Note on) of its own.
  function uploadFiles(pane, files) {
    const c = pane.conv;
    if (!c) return;
    for (const file of files) {
      const x = new XMLHttpRequest();
      const bar = h('progress', { max: '1', value: '0', 'data-sc': 'upload-progress', 'aria-label': `Uploading ${file.name}` });
      const cancel = h('button', { type: 'button', class: 'link-btn', 'data-sc': 'upload-cancel', text: 'Cancel', onclick: () => { x.abort(); row.remove(); } });
      const row = h('div', { class: 'upload-row', 'data-sc': 'upload' }, h('span', { text: file.name }), bar, cancel);
      pane.uploads.append(row);
      x.open('POST', mount + 'attachments?role=operator&name=' + encodeURIComponent(file.name || 'file'));
      x.upload.onprogress = (ev) => { if (ev.lengthComputable) bar.value = ev.loaded / ev.total; };
      x.onload = () => {
        row.remove();
        if (x.status !== 201) return toast(`${file.name}: ${x.responseText.trim().slice(0, 120) || 'upload failed'}`, 'error');
        const a = JSON.parse(x.responseText), note = pane.noteBox.checked || !pane.writable();
        enqueue(c, note ? 'note' : 'message', '', !note && pane.silentBox.checked, [a.id]);
      };
      x.onerror = () => { row.remove(); toast(`${file.name}: upload failed`, 'error'); };
      x.send(file);
    }
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

  function scrollToBottom(c) {
    c.scrollTop = null;
    c.thread.scrollTop = c.thread.scrollHeight;
  }

  function updateLoadEarlier(c) {
    const earlier = c.minSeq > 1 || (c.more && c.msgs.size > 0);
    show(c.loadBtn, earlier && !c.historyLoading);
    show(c.loadingEl, c.historyLoading);
  }

  function renderSeen(c) {
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

  // ---------------------------------------------------------------- history, search, details

  function loadHistory(c, earlier) {
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

  function onHistory(f) {
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

  function requestDetails(c, force) {
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

  function doSearch(text) {
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

  function clearSearch() {
    S.searchId = null;
    S.searchHits = null;
    S.searchStatus = '';
    byId('search').value = '';
    show(byId('search-section'), false);
    byId('search-results').textContent = '';
  }

  // ---------------------------------------------------------------- actions

  // accept takes a conversation from the queue. At capacity the server
  // refuses; the operator may then choose to take it anyway (force).
  function accept(convId, btn, force) {
    if (btn) btn.disabled = true;
    const f = { type: 'accept', conv: convId };
    if (force) f.force = true;
    const id = request(f, (reply, err) => {
      if (btn) btn.disabled = false;
      if (err && err.code === 'capacity' && !force) {
        if (window.confirm(`${humanError(err.error, err.code)}.\n\nTake this visitor as well?`)) accept(convId, btn, true);
        return;
      }
      if (err) {
        toast(humanError(err.error, err.code), 'error');
        return;
      }
      openConv(convId);
    }, true);
    if (!id && btn) btn.disabled = false;
  }

  function closeConv(c) {
    request({ type: 'close', conv: c.id }, (reply, err) => {
      if (!err) toast('Conversation closed.');
    });
  }

  function sendTranscript(c) {
    request({ type: 'transcript', conv: c.id }, (reply, err) => {
      if (!err) toast('Transcript sent to the visitor.');
    });
  }

  function reopenConv(c) {
    request({ type: 'reopen', conv: c.id }, (reply, err) => {
      if (err) return;
      if (c.assignedToMe) {
        openConv(c.id);
      } else if (c.status === 'queued') {
        toast('Reopened; it is waiting in the queue.');
      }
    });
  }

  function transfer() {
    const c = S.focused && S.focused.conv;
    if (!c || !c.assignedToMe) {
      toast('Open one of your conversations to transfer it.', 'error');
      return;
    }
    const op = byId('transfer-operator').value;
    const dept = byId('transfer-department').value.trim();
    const comment = byId('transfer-comment').value.trim();
    if (!op && !dept) {
      toast('Choose an operator or a department.', 'error');
      return;
    }
    const f = { type: 'transfer', conv: c.id };
    if (op) f.operator = op;
    else f.department = dept;
    if (comment) f.comment = comment;
    const go = byId('transfer-go');
    go.disabled = true;
    const id = request(f, (reply, err) => {
      go.disabled = false;
      if (err) return;
      const target = op ? (S.operators.find((o) => o.id === op) || {}).name || op : dept;
      toast(`Transferred to ${target}.`);
      byId('transfer-operator').value = '';
      byId('transfer-department').value = '';
      byId('transfer-comment').value = '';
      renderTeamSelection();
    });
    if (!id) go.disabled = false;
  }

  function setPresence(status) {
    S.presence = status === 'away' ? 'away' : 'online';
    prefs.presence = S.presence;
    saveJSON(localStorage, PREF_KEY, prefs);
    renderMe();
    if (S.ready) request({ type: 'presence', status: S.presence });
  }

  // ---------------------------------------------------------------- outbox

  function enqueue(c, type, text, silent, att) {
    const entry = { id: uid(), conv: c.id, type, text, ts: Date.now(), status: 'queued', silent: !!silent, att };
    S.outbox.push(entry);
    persist();
    // Connected: straight to the wire, so no "waiting for connection" line
    // flashes into the thread (a live region) first.
    if (S.ready) transmit(entry);
    else renderPending(c, entry);
    scrollToBottom(c);
    return entry;
  }

  function transmit(e) {
    if (sendFrame({ type: e.type, id: e.id, conv: e.conv, text: e.text, silent: e.silent || undefined, attachments: e.att })) e.status = 'sent';
    else e.status = 'queued';
    e.error = '';
    renderPending(getConv(e.conv), e);
  }

  const slowSends = new WeakMap(); // outbox entry -> timer of its "Sending…"
  function renderPending(c, e) {
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

  function renderOutboxStatus() {
    for (const e of S.outbox) renderPending(getConv(e.conv), e);
  }

  // ---------------------------------------------------------------- panes

  class Pane {
    constructor(index) {
      this.index = index;
      this.conv = null;
      this.cannedMode = null; // null | 'slash' | 'all'
      this.cannedSel = 0;
      this.build();
    }

    build() {
      const P = (cls, attrs, ...k) => h('div', Object.assign({ class: cls }, attrs || {}), ...k);
      this.backBtn = h('button', { type: 'button', class: 'btn-icon back-btn', 'aria-label': 'Back to the list', text: '‹' });
      this.avatar = h('span', { class: 'avatar avatar-md', 'aria-hidden': 'true' });
      this.nameEl = h('div', { class: 'conv-name' });
      this.subEl = h('div', { class: 'conv-sub' });
      this.acceptBtn = h('button', { type: 'button', class: 'btn btn-primary btn-small', text: 'Accept', hidden: true });
      this.reopenBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'data-sc': 'reopen-conv', text: 'Reopen', hidden: true });
      this.closeBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'data-sc': 'close-conv', text: 'Close', hidden: true });
      this.transcriptBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-sc': 'send-transcript', text: 'Email transcript', title: 'Email the conversation to the visitor (needs their email)' });
      this.detailsBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-small details-btn', text: 'Details' });
      this.splitBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-small split-btn', title: 'Show two conversations side by side', text: 'Split view' });
      this.paneCloseBtn = h('button', { type: 'button', class: 'btn-icon pane-close', 'aria-label': 'Close this side', text: '✕' });
      this.header = h('header', { class: 'conv-head' },
        this.backBtn, this.avatar,
        P('conv-id', null, this.nameEl, this.subEl),
        P('conv-actions', null, this.acceptBtn, this.reopenBtn, this.closeBtn, this.transcriptBtn, this.detailsBtn,
          this.index === 0 ? this.splitBtn : this.paneCloseBtn));

      this.threads = P('threads');
      this.typingEl = h('div', { class: 'typing', 'data-sc': 'typing', hidden: true, role: 'status' },
        h('span', { class: 'dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), ' Visitor is typing…');
      this.draftEl = h('div', { class: 'draft', 'data-sc': 'draft', hidden: true, 'aria-live': 'polite', title: 'What the visitor is typing (not sent yet)' });
      this.peek = P('peek', null, this.typingEl, this.draftEl);

      this.cannedList = h('div', { class: 'canned-list', 'data-sc': 'canned-list', role: 'listbox', hidden: true });
      this.input = h('textarea', { class: 'input', 'data-sc': 'input', rows: '2', placeholder: 'Type a reply — “/” for canned responses', 'aria-label': 'Message' });
      this.noteBox = h('input', { type: 'checkbox', 'data-sc': 'note-toggle' });
      this.noteLabel = h('label', { class: 'note-switch', title: 'Internal notes are seen by operators only' }, this.noteBox, h('span', { text: 'Note' }));
      this.silentBox = h('input', { type: 'checkbox', 'data-sc': 'silent-toggle' });
      this.silentLabel = h('label', { class: 'note-switch', title: 'Never email this message to the visitor, even if they miss it' }, this.silentBox, h('span', { text: 'No email' }));
      this.cannedBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-small', text: 'Canned', title: 'Insert a canned response' });
      this.sendBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-sc': 'send', text: 'Send' });
      this.fileInput = h('input', { type: 'file', 'data-sc': 'file', multiple: true, accept: 'image/*,application/pdf,text/plain', hidden: true, tabindex: '-1' });
      this.attachBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-sc': 'attach', text: 'Attach', title: 'Send an image or a file' });
      this.uploads = h('div', { class: 'uploads', 'data-sc': 'uploads', 'aria-live': 'polite' });
      this.composerHint = h('div', { class: 'composer-hint' });
      this.composer = h('div', { class: 'composer' },
        this.cannedList,
        this.uploads,
        this.input,
        P('composer-bar', null, this.cannedBtn, this.attachBtn, this.fileInput, this.composerHint, P('spacer'), this.silentLabel, this.noteLabel, this.sendBtn));

      this.empty = P('pane-empty', null,
        h('div', { class: 'pane-empty-inner' },
          h('div', { class: 'pane-empty-title', text: this.index === 0 ? 'No conversation open' : 'Second conversation' }),
          h('div', { class: 'pane-empty-text', text: this.index === 0
            ? 'Pick a conversation on the left, or accept a visitor from the queue.'
            : 'Pick another conversation on the left to show it here.' })));
      this.body = P('pane-body', { hidden: true }, this.header, this.threads, this.peek, this.composer);
      this.root = h('section', { class: 'pane', 'data-pane': String(this.index) }, this.empty, this.body);

      this.root.addEventListener('pointerdown', () => focusPane(this), true);
      this.root.addEventListener('focusin', () => focusPane(this));
      this.backBtn.addEventListener('click', () => {
        document.body.classList.remove('view-thread');
        scheduleRender();
      });
      this.acceptBtn.addEventListener('click', () => this.conv && accept(this.conv.id, this.acceptBtn));
      this.reopenBtn.addEventListener('click', () => this.conv && reopenConv(this.conv));
      this.closeBtn.addEventListener('click', () => this.conv && closeConv(this.conv));
      this.transcriptBtn.addEventListener('click', () => this.conv && sendTranscript(this.conv));
      this.detailsBtn.addEventListener('click', () => {
        focusPane(this);
        document.body.classList.toggle('details-open');
        renderDrawer();
      });
      this.splitBtn.addEventListener('click', () => setSplit(!S.split));
      this.paneCloseBtn.addEventListener('click', () => setSplit(false));
      this.sendBtn.addEventListener('click', () => this.send());
      this.attachBtn.addEventListener('click', () => this.fileInput.click());
      this.fileInput.addEventListener('change', () => { uploadFiles(this, this.fileInput.files); this.fileInput.value = ''; });
      this.input.addEventListener('paste', (ev) => {
        const f = ev.clipboardData && ev.clipboardData.files;
        if (f && f.length) { ev.preventDefault(); uploadFiles(this, f); }
      });
      this.body.addEventListener('dragover', (ev) => { if ([...ev.dataTransfer.types].includes('Files')) ev.preventDefault(); });
      this.body.addEventListener('drop', (ev) => { if (ev.dataTransfer.files.length) { ev.preventDefault(); uploadFiles(this, ev.dataTransfer.files); } });
      this.cannedBtn.addEventListener('click', () => {
        if (this.cannedMode === 'all') this.closeCanned();
        else this.openCanned('all');
        this.input.focus();
      });
      this.noteBox.addEventListener('change', () => {
        if (this.conv) this.conv.note = this.noteBox.checked;
        if (this.noteBox.checked) this.stopTyping();
        this.renderComposer();
      });
      this.input.addEventListener('input', () => this.onInput());
      this.input.addEventListener('keydown', (ev) => this.onKey(ev));
      // Enter sends (or picks a canned response); keep a synthesised
      // keypress from adding a line break afterwards.
      this.input.addEventListener('keypress', (ev) => {
        if (ev.key === 'Enter' && !ev.shiftKey && !ev.altKey) ev.preventDefault();
      });
      this.input.addEventListener('blur', () => {
        setTimeout(() => { if (document.activeElement !== this.input) this.closeCanned(); }, 150);
      });
    }

    showConv(c) {
      if (this.conv === c) return;
      if (this.conv) this.hideConv();
      this.conv = c;
      if (!c) {
        this.render();
        return;
      }
      this.threads.append(c.thread);
      c.thread.hidden = false;
      this.input.value = c.draft;
      this.noteBox.checked = c.note;
      this.closeCanned();
      this.render();
      if (c.scrollTop === null) scrollToBottom(c);
      else c.thread.scrollTop = c.scrollTop;
    }

    hideConv() {
      const c = this.conv;
      if (!c) return;
      this.stopTyping();
      c.draft = this.input.value;
      c.scrollTop = nearBottom(c.thread) ? null : c.thread.scrollTop;
      c.thread.hidden = true;
      byId('thread-park').append(c.thread);
      this.conv = null;
      persist();
    }

    // writable: messages can go to the visitor; otherwise only notes.
    writable() {
      return !!(this.conv && this.conv.assignedToMe);
    }

    render() {
      const c = this.conv;
      show(this.empty, !c);
      show(this.body, !!c);
      this.root.classList.toggle('focused', S.split && S.focused === this);
      if (!c) return;
      fillAvatar(this.avatar, c.name, '', c.visitorId || c.id);
      this.nameEl.textContent = c.name;
      this.subEl.textContent = statusLine(c);
      const st = c.status;
      show(this.acceptBtn, st === 'queued');
      this.acceptBtn.textContent = st === 'queued' && !(c.state && c.state.live) ? 'Answer' : 'Accept';
      show(this.reopenBtn, st === 'closed');
      show(this.closeBtn, c.assignedToMe);
      this.splitBtn.textContent = S.split ? 'Single view' : 'Split view';
      this.typingEl.hidden = !(c.vTyping && c.mine);
      this.draftEl.textContent = c.mine ? c.vDraft : '';
      this.draftEl.hidden = !(c.mine && c.vDraft);
      this.renderComposer();
    }

    renderComposer() {
      const c = this.conv;
      if (!c) return;
      const writable = this.writable();
      if (!writable) {
        this.noteBox.checked = true;
        this.noteBox.disabled = true;
      } else if (this.noteBox.disabled) {
        this.noteBox.disabled = false;
        this.noteBox.checked = c.note;
      } else {
        c.note = this.noteBox.checked; // the box is the truth while enabled
      }
      const note = this.noteBox.checked;
      this.composer.classList.toggle('composer-note', note);
      let placeholder = 'Type a reply — “/” for canned responses';
      if (writable && note) placeholder = 'Write an internal note — only operators see it';
      else if (c.status === 'closed') placeholder = 'Closed — reopen it to reply, or add an internal note';
      else if (!writable) placeholder = 'Not assigned to you — you can add an internal note';
      this.input.placeholder = placeholder;
      this.sendBtn.textContent = note ? 'Add note' : 'Send';
      show(this.cannedBtn, S.canned.length > 0);
      const hint = S.ready ? '' : 'Offline — messages are kept and sent when the connection is back';
      this.composerHint.textContent = hint;
    }

    onInput() {
      const c = this.conv;
      if (!c) return;
      c.draft = this.input.value;
      persist();
      const m = /^\/(\S*)$/.exec(this.input.value);
      if (m && S.canned.length) this.openCanned('slash', m[1]);
      else if (this.cannedMode === 'slash') this.closeCanned();
      if (this.writable() && !this.noteBox.checked && this.input.value.trim() !== '' && !this.input.value.startsWith('/')) this.startTyping();
      else if (this.input.value.trim() === '') this.stopTyping();
    }

    startTyping() {
      const c = this.conv;
      if (!c || !S.ready) return;
      const now = Date.now();
      if (!c.opTyping || now - c.opTypingAt > 4000) {
        if (sendFrame({ type: 'typing', conv: c.id, typing: true })) {
          c.opTyping = true;
          c.opTypingAt = now;
        }
      }
      clearTimeout(c.opTypingTimer);
      c.opTypingTimer = setTimeout(() => this.stopTyping(c), 5000);
    }

    stopTyping(conv) {
      const c = conv || this.conv;
      if (!c) return;
      clearTimeout(c.opTypingTimer);
      if (c.opTyping) {
        c.opTyping = false;
        if (c.assignedToMe) sendFrame({ type: 'typing', conv: c.id, typing: false });
      }
    }

    onKey(ev) {
      if (this.cannedMode) {
        const items = this.cannedItems();
        if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
          ev.preventDefault();
          if (items.length) {
            this.cannedSel = (this.cannedSel + (ev.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
            this.renderCanned();
          }
          return;
        }
        if ((ev.key === 'Enter' || ev.key === 'Tab') && !ev.shiftKey && items.length) {
          ev.preventDefault();
          this.insertCanned(items[Math.min(this.cannedSel, items.length - 1)]);
          return;
        }
        if (ev.key === 'Escape') {
          ev.preventDefault();
          this.closeCanned();
          return;
        }
      }
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.altKey && !ev.isComposing) {
        ev.preventDefault();
        this.send();
      }
    }

    send() {
      const c = this.conv;
      if (!c) return;
      const text = this.input.value;
      if (text.trim() === '') return;
      if (byteLength(text) > MAX_TEXT_BYTES) {
        toast(`That message is too long (at most ${MAX_TEXT_BYTES} bytes).`, 'error');
        return;
      }
      const note = this.noteBox.checked || !this.writable();
      this.stopTyping();
      enqueue(c, note ? 'note' : 'message', text, !note && this.silentBox.checked);
      this.input.value = '';
      c.draft = '';
      persist();
      this.closeCanned();
      this.input.focus();
      scheduleRender();
    }

    // ----- canned responses

    cannedItems() {
      if (this.cannedMode !== 'slash') return S.canned;
      const q = (this.cannedQuery || '').toLowerCase();
      const hits = S.canned.filter((k) => !q || [k.shortcut, k.title, k.text].some((x) => String(x || '').toLowerCase().includes(q)));
      hits.sort((a, b) => Number(!String(a.shortcut || '').toLowerCase().startsWith(q)) - Number(!String(b.shortcut || '').toLowerCase().startsWith(q)));
      return hits;
    }

    openCanned(mode, query) {
      if (this.cannedMode !== mode || this.cannedQuery !== query) this.cannedSel = 0;
      this.cannedMode = mode;
      this.cannedQuery = query || '';
      this.renderCanned();
    }

    closeCanned() {
      this.cannedMode = null;
      this.cannedList.hidden = true;
      this.cannedList.textContent = '';
    }

    renderCanned() {
      const items = this.cannedItems();
      this.cannedList.textContent = '';
      if (!items.length) {
        this.cannedList.append(h('div', { class: 'canned-empty', text: 'No canned response matches.' }));
      }
      items.forEach((k, i) => {
        const item = h('div', { class: `canned-item${i === this.cannedSel ? ' selected' : ''}`, 'data-sc': 'canned-item', role: 'option', 'aria-selected': i === this.cannedSel ? 'true' : 'false', 'data-shortcut': k.shortcut || '' },
          h('div', { class: 'canned-head' },
            h('span', { class: 'canned-shortcut', text: `/${k.shortcut || ''}` }),
            h('span', { class: 'canned-title', text: k.title || '' }),
            k.personal ? h('span', { class: 'chip', text: 'Personal' }) : null),
          h('div', { class: 'canned-text', text: k.text }));
        item.addEventListener('mousedown', (ev) => ev.preventDefault());
        item.addEventListener('click', () => this.insertCanned(k));
        this.cannedList.append(item);
      });
      this.cannedList.hidden = false;
      const sel = this.cannedList.children[this.cannedSel];
      if (sel && sel.scrollIntoView) sel.scrollIntoView({ block: 'nearest' });
    }

    insertCanned(k) {
      if (!k) return;
      const ta = this.input;
      const text = fillCanned(k.text, this.conv);
      let start = 0;
      if (this.cannedMode === 'slash' || /^\/\S*$/.test(ta.value)) {
        ta.value = text;
        ta.setSelectionRange(ta.value.length, ta.value.length);
      } else {
        start = ta.selectionStart ?? ta.value.length;
        const end = ta.selectionEnd ?? ta.value.length;
        ta.value = ta.value.slice(0, start) + text + ta.value.slice(end);
        const pos = start + text.length;
        ta.setSelectionRange(pos, pos);
      }
      // A variable with no value stays, selected, for the operator to type over.
      const left = /\{[\w.-]+\}/.exec(text);
      if (left) ta.setSelectionRange(start + left.index, start + left.index + left[0].length);
      this.closeCanned();
      ta.focus();
      if (this.conv) {
        this.conv.draft = ta.value;
        persist();
      }
    }
  }

  function statusLine(c) {
    const st = c.state || {};
    const dept = st.department ? ` · ${st.department}` : '';
    switch (st.status) {
      case 'assigned':
        if (c.assignedToMe) return `Assigned to you${dept}`;
        return `Assigned to ${(st.operator && (st.operator.name || st.operator.id)) || 'another operator'}${dept} · read-only`;
      case 'queued':
        return st.live ? `Waiting for an operator${dept}` : `Waiting for reply${dept} · the visitor is away: a reply goes by email`;
      case 'closed':
        return `Closed${dept}`;
      default:
        return c.historyLoading ? 'Loading…' : '';
    }
  }

  function focusPane(p) {
    if (S.focused === p) return;
    S.focused = p;
    for (const q of S.panes) q.root.classList.toggle('focused', S.split && q === p);
    if (p.conv) requestDetails(p.conv, false);
    renderDetails();
    renderLists();
  }

  function setSplit(on) {
    on = !!on && splitMQ.matches;
    if (on === S.split) return;
    S.split = on;
    document.body.classList.toggle('split', on);
    if (on) {
      const p = new Pane(1);
      S.panes.push(p);
      byId('panes').append(p.root);
      S.focused = p;
      p.render();
    } else {
      const p = S.panes[1];
      if (p) {
        p.hideConv();
        p.root.remove();
        S.panes.splice(1, 1);
      }
      S.focused = S.panes[0];
    }
    for (const q of S.panes) q.render();
    renderDetails();
    renderLists();
  }
  splitMQ.addEventListener('change', () => { if (!splitMQ.matches && S.split) setSplit(false); });

  // openConv shows a conversation in the focused pane (or where it is shown
  // already). Conversations that are not mine open read-only from history.
  function openConv(id) {
    setTab('chats');
    const c = getConv(id);
    const here = c.pane();
    if (here) {
      focusPane(here);
    } else {
      S.focused.showConv(c);
    }
    document.body.classList.add('view-thread');
    if (!c.mine || !c.assignedToMe) {
      if (!c.historyLoading) loadHistory(c, false);
    } else if (c.minSeq > 1 && c.msgs.size < HISTORY_PAGE && !c.historyLoaded) {
      loadHistory(c, true);
    }
    requestDetails(c, false);
    renderDetails();
    scheduleRender();
    const pane = c.pane();
    if (pane && !narrowMQ.matches) pane.input.focus({ preventScroll: true });
  }

  function isInView(c) {
    if (document.hidden) return false;
    const p = c.pane();
    if (!p) return false;
    if (narrowMQ.matches && !document.body.classList.contains('view-thread')) return false;
    return true;
  }

  function markRead() {
    if (!S.ready) return;
    for (const p of S.panes) {
      const c = p.conv;
      if (!c || !c.assignedToMe || !isInView(c)) continue;
      if (c.maxSeq > c.readMark()) {
        if (sendFrame({ type: 'read', conv: c.id, seq: c.maxSeq })) c.readSent = c.maxSeq;
      }
    }
  }

  // ---------------------------------------------------------------- rendering

  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    queueMicrotask(() => {
      renderQueued = false;
      markRead();
      renderLists();
      for (const p of S.panes) p.render();
      renderDetails();
      renderTitle();
    });
  }

  function renderMe() {
    const me = S.me || { name: 'Connecting…', id: '' };
    byId('me-name').textContent = me.name;
    fillAvatar(byId('me-avatar'), me.name, me.avatar, me.id);
    const sel = byId('presence');
    if (sel.value !== S.presence) sel.value = S.presence;
    byId('presence-dot').className = `presence-dot presence-${S.presence}`;
    show(byId('away-note'), S.presence === 'away');
  }

  function renderTitle() {
    let n = 0;
    for (const c of S.convs.values()) n += c.unread();
    const waiting = S.presence === 'online' ? S.queue.length : 0;
    let title = n > 0 ? `(${n}) ${TITLE}` : TITLE;
    if (waiting) title = `${waiting} waiting · ${title}`;
    if (document.title !== title) document.title = title;
  }

  // announce tells screen readers something happened (a visitor waiting,
  // a new conversation) without moving focus.
  let announceT = 0;
  function announce(text) {
    const el = byId('announcer');
    el.textContent = '';
    clearTimeout(announceT);
    announceT = setTimeout(() => { el.textContent = text; }, 50);
  }

  function renderSound() {
    const btn = byId('sound-btn');
    const on = prefs.sound !== false;
    btn.setAttribute('aria-pressed', String(on));
    btn.classList.toggle('muted', !on);
    btn.title = on ? 'Sound for waiting visitors is on' : 'Sound for waiting visitors is off';
  }
  byId('sound-btn').addEventListener('click', () => {
    prefs.sound = prefs.sound === false;
    saveJSON(localStorage, PREF_KEY, prefs);
    renderSound();
    if (prefs.sound) { unlockAudio(); beep(); }
  });

  function renderLists() {
    renderQueue();
    renderConvList();
  }

  // reconcile keeps container's children in the order of keys, reusing the
  // element cache and building new ones with make.
  function reconcile(container, cache, keys, make, update) {
    const wanted = new Set(keys);
    for (const [k, el] of cache) {
      if (!wanted.has(k)) {
        el.remove();
        cache.delete(k);
      }
    }
    let prev = null;
    for (const k of keys) {
      let el = cache.get(k);
      if (!el) {
        el = make(k);
        cache.set(k, el);
      }
      update(el, k);
      const want = prev ? prev.nextSibling : container.firstChild;
      if (want !== el) container.insertBefore(el, want);
      prev = el;
    }
  }

  const queueEls = new Map();
  const replyEls = new Map();
  function renderQueue() {
    renderWaitList(S.queue, 'queue', queueEls);
    renderWaitList(S.replyWait, 'reply-queue', replyEls);
    const n = S.queue.length, r = S.replyWait.length;
    byId('queue-count').textContent = n ? String(n) : '';
    show(byId('queue-empty'), n === 0);
    byId('reply-count').textContent = r ? String(r) : '';
    show(byId('reply-empty'), r === 0);
    document.body.classList.toggle('visitors-waiting', n > 0 && S.presence === 'online');
  }

  // renderWaitList draws one of the two waiting lists; every entry has an
  // Accept (live) or Answer (waiting for reply) button.
  function renderWaitList(list, containerId, els) {
    const live = containerId === 'queue';
    reconcile(byId(containerId), els, list.map((c) => c.id), (id) => {
      const avatar = h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' });
      const name = h('div', { class: 'item-name' });
      const wait = h('span', { class: 'qi-wait' });
      const dept = h('span', { class: 'chip', hidden: true });
      const btn = h('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-sc': 'accept', text: live ? 'Accept' : 'Answer' });
      btn.addEventListener('click', (ev) => {
        ev.stopPropagation();
        accept(id, btn);
      });
      const preview = h('button', { type: 'button', class: 'btn-icon item-open', 'aria-label': 'Preview', text: '›' });
      const el = h('div', { class: 'item queue-item', 'data-sc': live ? 'queue-item' : 'reply-item', 'data-conv': id, role: 'listitem' },
        avatar, h('div', { class: 'item-main' }, name, h('div', { class: 'item-sub' }, wait, dept)), btn, preview);
      el.addEventListener('click', () => openConv(id));
      el._parts = { avatar, name, wait, dept };
      return el;
    }, (el, id) => {
      const q = list.find((c) => c.id === id);
      const p = el._parts;
      const nm = visitorName(q, id);
      fillAvatar(p.avatar, nm, '', (q.visitor && q.visitor.id) || id);
      p.name.textContent = nm;
      el.querySelector('.item-open').setAttribute('aria-label', `Preview ${nm}`);
      const since = parseTime(q.waiting) || parseTime(q.created);
      p.wait.textContent = since ? `waiting ${duration((Date.now() - since.getTime()) / 1000)}` : 'waiting';
      p.wait.dataset.since = since ? String(since.getTime()) : '';
      p.dept.textContent = q.department || '';
      p.dept.hidden = !q.department;
      el.classList.toggle('active', !!(S.focused && S.focused.conv && S.focused.conv.id === id));
    });
  }

  function updateWaitTimes() {
    for (const el of document.querySelectorAll('#queue .qi-wait, #reply-queue .qi-wait')) {
      const since = Number(el.dataset.since);
      if (since) el.textContent = `waiting ${duration((Date.now() - since) / 1000)}`;
    }
    for (const el of byId('conversations').querySelectorAll('.item-time')) {
      const t = Number(el.dataset.ts);
      if (t) el.textContent = shortTime(new Date(t));
    }
  }
  setInterval(updateWaitTimes, 15000);

  const convEls = new Map();
  function renderConvList() {
    const mine = Array.from(S.convs.values()).filter((c) => c.mine);
    mine.sort((a, b) => {
      const ca = a.status === 'closed' ? 1 : 0;
      const cb = b.status === 'closed' ? 1 : 0;
      return ca - cb || b.lastActivity - a.lastActivity || (a.id < b.id ? -1 : 1);
    });
    reconcile(byId('conversations'), convEls, mine.map((c) => c.id), (id) => {
      const avatar = h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' });
      const name = h('span', { class: 'item-name' });
      const time = h('time', { class: 'item-time' });
      const preview = h('span', { class: 'item-preview' });
      const unread = h('span', { class: 'badge', 'data-sc': 'unread', hidden: true });
      const dismiss = h('button', { type: 'button', class: 'btn-icon dismiss', 'aria-label': 'Remove from the list', title: 'Remove from the list', text: '✕', hidden: true });
      dismiss.addEventListener('click', (ev) => {
        ev.stopPropagation();
        dismissConv(id);
      });
      const el = h('div', { class: 'item conv-item', 'data-sc': 'conv-item', 'data-conv': id, tabindex: '0', role: 'button' },
        avatar,
        h('div', { class: 'item-main' },
          h('div', { class: 'item-top' }, name, time),
          h('div', { class: 'item-sub' }, preview, unread)),
        dismiss);
      el.addEventListener('click', () => openConv(id));
      el.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' && ev.target === el) openConv(id); });
      el._parts = { avatar, name, time, preview, unread, dismiss };
      return el;
    }, (el, id) => {
      const c = S.convs.get(id);
      const p = el._parts;
      fillAvatar(p.avatar, c.name, '', c.visitorId || c.id);
      p.name.textContent = c.name;
      const last = c.lastMessage();
      const lt = last ? parseTime(last.ts) : null;
      p.time.textContent = shortTime(lt);
      p.time.dataset.ts = lt ? String(lt.getTime()) : '';
      let preview = '';
      p.preview.classList.toggle('typing-preview', c.vTyping);
      if (c.vTyping) preview = 'typing…';
      else if (c.status === 'closed') preview = 'Closed';
      else if (last) preview = (last.kind === 'operator' ? 'You: ' : last.kind === 'note' ? 'Note: ' : '') + String(last.text).replace(/\s+/g, ' ').slice(0, 120);
      p.preview.textContent = preview;
      const n = c.unread();
      p.unread.textContent = n ? String(n) : '';
      p.unread.hidden = n === 0;
      p.dismiss.hidden = c.status !== 'closed';
      el.classList.toggle('unread', n > 0);
      el.classList.toggle('closed', c.status === 'closed');
      const active = !!c.pane();
      el.classList.toggle('active', active && S.focused && S.focused.conv === c);
      el.classList.toggle('shown', active);
      if (active && S.focused && S.focused.conv === c) el.setAttribute('aria-current', 'true');
      else el.removeAttribute('aria-current');
    });
    const open = mine.filter((c) => c.status !== 'closed').length;
    byId('convs-count').textContent = open ? String(open) : '';
    show(byId('convs-empty'), mine.length === 0);
  }

  function dismissConv(id) {
    const c = S.convs.get(id);
    if (!c) return;
    c.mine = false;
    const p = c.pane();
    if (p) p.showConv(null);
    scheduleRender();
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

  // ----- details column

  function renderDrawer() {
    const open = document.body.classList.contains('details-open') && !wideMQ.matches;
    show(byId('scrim'), open);
  }

  function renderDetails() {
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

  // ----- team and transfer

  function renderTeam() {
    const sel = byId('transfer-operator');
    const current = sel.value;
    sel.textContent = '';
    sel.append(h('option', { value: '', text: 'Choose an operator…' }));
    const team = S.operators.filter((o) => o && o.id && (!S.me || o.id !== S.me.id));
    const rank = { online: 0, away: 1, offline: 2 };
    team.sort((a, b) => (rank[a.presence] ?? 3) - (rank[b.presence] ?? 3) || String(a.name || a.id).localeCompare(String(b.name || b.id)));
    for (const o of team) {
      const selectable = o.presence === 'online' || o.presence === 'away';
      const load = o.capacity ? ` · ${o.active || 0}/${o.capacity}` : '';
      sel.append(h('option', { value: o.id, disabled: !selectable, text: `${o.name || o.id} — ${o.presence || 'offline'}${load}` }));
    }
    if (current && team.some((o) => o.id === current && (o.presence === 'online' || o.presence === 'away'))) sel.value = current;

    const box = byId('team');
    box.textContent = '';
    for (const o of team) {
      const selectable = o.presence === 'online' || o.presence === 'away';
      const av = h('span', { class: 'avatar avatar-xs', 'aria-hidden': 'true' });
      fillAvatar(av, o.name || o.id, o.avatar, o.id);
      const el = h('button', { type: 'button', class: `member presence-${o.presence || 'offline'}`, role: 'listitem', disabled: !selectable, 'data-op': o.id, title: `${o.name || o.id}: ${o.presence || 'offline'}${o.departments && o.departments.length ? ' · ' + o.departments.join(', ') : ''}` },
        h('span', { class: 'member-av' }, av, h('span', { class: `presence-dot presence-${o.presence || 'offline'}` })),
        h('span', { class: 'member-name', text: o.name || o.id }),
        h('span', { class: 'member-load', text: o.capacity ? `${o.active || 0}/${o.capacity}` : '' }));
      el.addEventListener('click', () => {
        sel.value = sel.value === o.id ? '' : o.id;
        renderTeamSelection();
      });
      box.append(el);
    }
    show(box, team.length > 0);
    renderTeamSelection();

    const depts = new Set();
    for (const o of S.operators) for (const d of (o && o.departments) || []) if (d) depts.add(String(d));
    const dl = byId('departments');
    dl.textContent = '';
    for (const d of Array.from(depts).sort()) dl.append(h('option', { value: d }));
  }

  function renderTeamSelection() {
    const v = byId('transfer-operator').value;
    for (const el of byId('team').querySelectorAll('.member')) el.classList.toggle('selected', el.dataset.op === v);
    byId('transfer-department').disabled = !!v;
  }

  function renderCannedButtons() {
    for (const p of S.panes) p.renderComposer();
  }

  // ---------------------------------------------------------------- tabs

  const TABS = ['chats', 'visitors', 'canned', 'triggers', 'reports'];

  function setTab(tab) {
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
  function formError(id, text) {
    const el = byId(id);
    el.textContent = text || '';
    show(el, !!text);
  }

  // ---------------------------------------------------------------- live visitors

  const liveEls = new Map();
  let inviting = ''; // the visitor whose invitation form is open
  const inviteText = h('textarea', { id: 'invite-text', 'data-sc': 'invite-text', rows: '2', maxlength: '4000', 'aria-label': 'Invitation message' });
  const inviteErr = h('span', { class: 'form-error', id: 'invite-error', role: 'alert', hidden: true });
  const inviteSend = h('button', { type: 'submit', class: 'btn btn-primary btn-small', id: 'invite-send', 'data-sc': 'invite-send', text: 'Send invitation' });
  const inviteForm = h('form', { class: 'invite-form', id: 'invite-form', 'data-sc': 'invite-form' },
    inviteText,
    h('div', { class: 'form-actions' }, inviteErr,
      h('button', { type: 'button', class: 'btn btn-ghost btn-small', id: 'invite-cancel', text: 'Cancel', onclick: () => closeInvite() }),
      inviteSend));

  function liveName(v) {
    return visitorName({ visitor: { id: v.id, name: v.name } });
  }

  function renderVisitors() {
    const list = S.live.filter((v) => v && v.id);
    // Suggested first, then the longest on the site.
    list.sort((a, b) => Number(!!b.suggested) - Number(!!a.suggested) || (Date.parse(a.first_seen) || 0) - (Date.parse(b.first_seen) || 0));
    const onSite = list.filter((v) => v.on_site).length;
    byId('visitors-count').textContent = onSite ? String(onSite) : '';
    if (S.tab !== 'visitors') return;
    // On the site now first; those who left recently after them, not invitable.
    list.sort((a, b) => Number(!!b.on_site) - Number(!!a.on_site));
    const here = list.filter((v) => v.on_site);
    const chatting = here.filter((v) => v.chatting).length;
    byId('visitors-sub').textContent = list.length ? `${here.length} on the site · ${chatting} chatting · ${list.length - here.length} recently left` : '';
    show(byId('visitors-empty'), list.length === 0);
    reconcile(byId('visitors-list'), liveEls, list.map((v) => v.id), (id) => {
      const p = {
        avatar: h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' }),
        name: h('span', { class: 'item-name', 'data-sc': 'visitor-name' }),
        badges: h('span', { class: 'lv-badges' }),
        page: h('span', { class: 'lv-page', 'data-sc': 'visitor-page' }),
        about: h('span', { class: 'lv-about', 'data-sc': 'visitor-about' }),
        time: h('span', { class: 'lv-time', 'data-sc': 'visitor-time' }),
        pages: h('span', { class: 'lv-num', 'data-sc': 'visitor-pages' }),
        cart: h('span', { class: 'lv-num', 'data-sc': 'visitor-cart' }),
        invite: h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'data-sc': 'invite-btn', text: 'Invite' }),
        slot: h('div', { class: 'lv-slot' }),
      };
      p.invite.addEventListener('click', () => (inviting === id ? closeInvite() : openInvite(id)));
      const el = h('div', { class: 'lv', role: 'listitem', 'data-sc': 'visitor-row', 'data-visitor': id },
        h('div', { class: 'lv-row' },
          h('span', { class: 'lv-who' }, p.avatar, h('span', { class: 'lv-who-text' }, p.name, p.badges, p.about)),
          p.page, p.time, p.pages, p.cart, h('span', { class: 'lv-act' }, p.invite)),
        p.slot);
      el._parts = p;
      return el;
    }, (el, id) => {
      const v = list.find((x) => x.id === id);
      const p = el._parts;
      const name = liveName(v);
      fillAvatar(p.avatar, name, '', id);
      p.name.textContent = name;
      p.badges.textContent = '';
      p.badges.append(h('span', { class: `chip ${v.returning ? 'chip-returning' : 'chip-new'}`, text: v.returning ? 'Returning' : 'New' }));
      if (v.chatting) p.badges.append(h('span', { class: 'chip chip-chatting', 'data-sc': 'visitor-chatting', text: 'Chatting' }));
      if (v.suggested) p.badges.append(h('span', { class: 'chip chip-suggested', 'data-sc': 'visitor-suggested', title: `Suggested by trigger ${v.suggested}`, text: 'Suggested' }));
      const sig = `${v.url}|${v.title}`;
      if (p.page.dataset.sig !== sig) {
        p.page.dataset.sig = sig;
        p.page.textContent = '';
        p.page.append(h('span', { class: 'lv-title', text: v.title || v.url || '' }), h('span', { class: 'lv-url', text: v.url || '' }));
        p.page.title = v.url || '';
      }
      const since = parseTime(v.page_since);
      p.time.dataset.since = since ? String(since.getTime()) : '';
      p.pages.textContent = String(v.pages || 0);
      p.cart.textContent = v.cart_value ? money(v.cart_value, v.currency || '') : '';
      p.invite.disabled = !!v.chatting || !v.on_site;
      p.invite.title = v.on_site ? '' : 'They have left the site';
      el.classList.toggle('suggested', !!v.suggested);
      el.classList.toggle('left', !v.on_site);
      el.dataset.onSite = v.on_site ? 'true' : 'false';
      const first = parseTime(v.first_seen);
      p.about.dataset.first = first ? String(first.getTime()) : '';
      p.about.dataset.text = [v.device, v.referrer ? `from ${v.referrer}` : 'direct', v.on_site ? '' : 'left'].filter(Boolean).join(' · ');
    });
    tickVisitors();
    if (inviting && !liveEls.has(inviting)) closeInvite();
  }

  function tickVisitors() {
    if (S.tab !== 'visitors') return;
    for (const el of byId('visitors-list').querySelectorAll('.lv-time')) {
      const since = Number(el.dataset.since);
      el.textContent = since ? duration((Date.now() - since) / 1000) : '';
    }
    for (const el of byId('visitors-list').querySelectorAll('.lv-about')) {
      const first = Number(el.dataset.first);
      el.textContent = [el.dataset.text, first ? `${duration((Date.now() - first) / 1000)} on site` : ''].filter(Boolean).join(' · ');
    }
  }
  setInterval(tickVisitors, 1000);

  function openInvite(id) {
    const v = S.live.find((x) => x.id === id);
    const el = liveEls.get(id);
    if (!v || !el) return;
    inviting = id;
    const t = v.suggested && (S.triggers || []).find((x) => x.id === v.suggested);
    const me = (S.me && S.me.name) || '';
    // The box starts empty (a suggestion as placeholder): what the operator types is all that is sent.
    inviteText.value = '';
    inviteText.placeholder = (t && t.message) || `Hi${v.name ? ' ' + v.name : ''}! I'm ${me}. Can I help you with anything?`;
    el._parts.slot.append(inviteForm);
    formError('invite-error', '');
    inviteSend.disabled = false;
    inviteText.focus();
  }

  function closeInvite() {
    inviting = '';
    inviteForm.remove();
  }

  inviteForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = inviting;
    const text = inviteText.value.trim();
    if (!id) return;
    if (!text) return formError('invite-error', 'Write the invitation first.');
    if (byteLength(text) > MAX_TEXT_BYTES) return formError('invite-error', 'The invitation is too long.');
    inviteSend.disabled = true;
    const v = S.live.find((x) => x.id === id);
    const sent = request({ type: 'invite', visitor: id, text }, (reply, err) => {
      inviteSend.disabled = false;
      if (err) return formError('invite-error', humanError(err.error, err.code));
      toast(`Invitation sent to ${v ? liveName(v) : 'the visitor'}.`);
      closeInvite();
    }, true);
    if (!sent) inviteSend.disabled = false;
  });

  // ---------------------------------------------------------------- canned responses

  function setCanned(list) {
    S.canned = (list || []).filter((c) => c && typeof c.text === 'string');
    renderCannedButtons();
    renderCannedList();
  }

  // A canned frame answers a request with the whole list, or tells of
  // another operator's change with one part of it: status "team" or "personal".
  function onCanned(f) {
    const part = f.status === 'team' || f.status === 'personal';
    if (!part || S.requests.has(f.id)) setCanned(f.canned);
    else setCanned(S.canned.filter((k) => !!k.personal !== (f.status === 'personal')).concat(f.canned || []));
    resolve(f);
  }

  function loadCanned() {
    if (S.ready) request({ type: 'canned', action: 'list' }, null, true);
  }

  // fillCanned replaces a canned response's variables with what is known
  // about the conversation's visitor; unknown ones stay as they are.
  function fillCanned(text, c) {
    const d = (c && c.details) || {};
    const v = (c && c.state && c.state.visitor) || {};
    const vars = Object.assign({}, d.variables || {});
    const known = {
      'visitor.name': d.name || v.name,
      'visitor.email': d.email,
      'operator.name': S.me && S.me.name,
      'page.url': d.page && d.page.url,
      'page.title': d.page && d.page.title,
    };
    for (const [k, x] of Object.entries(known)) if (x) vars[k] = x;
    return String(text).replace(/\{([\w.-]+)\}/g, (m, k) => (vars[k] ? String(vars[k]) : m));
  }

  function renderCannedList() {
    if (S.tab !== 'canned') return;
    const box = byId('canned-list');
    box.textContent = '';
    const sorted = S.canned.slice().sort((a, b) => String(a.shortcut).localeCompare(String(b.shortcut)));
    for (const [title, items] of [['Team', sorted.filter((k) => !k.personal)], ['Personal', sorted.filter((k) => k.personal)]]) {
      box.append(h('h3', { class: 'tool-list-head', text: `${title} (${items.length})` }));
      if (!items.length) box.append(h('div', { class: 'list-empty', text: title === 'Team' ? 'No team responses yet.' : 'No personal responses yet.' }));
      for (const k of items) {
        box.append(h('div', { class: 'tool-item', 'data-sc': 'canned-row', 'data-shortcut': k.shortcut || '' },
          h('div', { class: 'tool-item-main' },
            h('div', { class: 'tool-item-top' },
              h('span', { class: 'canned-shortcut', text: `/${k.shortcut || ''}` }),
              h('span', { class: 'canned-title', text: k.title || '' })),
            h('div', { class: 'tool-item-text', text: k.text })),
          h('div', { class: 'tool-item-actions' },
            h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-sc': 'canned-edit', text: 'Edit', onclick: () => openCannedEditor(k) }),
            h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-sc': 'canned-delete', text: 'Delete', onclick: () => deleteCanned(k) }))));
      }
    }
  }

  let cannedEditing = null;
  function openCannedEditor(k) {
    cannedEditing = k && k.id ? k : null;
    byId('canned-form-title').textContent = cannedEditing ? `Edit /${k.shortcut}` : 'New canned response';
    byId('canned-shortcut').value = (k && k.shortcut) || '';
    byId('canned-title').value = (k && k.title) || '';
    byId('canned-text').value = (k && k.text) || '';
    byId('canned-personal').checked = !!(k && k.personal);
    formError('canned-error', '');
    show(byId('canned-form'), true);
    byId('canned-shortcut').focus();
  }

  function saveCanned(ev) {
    ev.preventDefault();
    const canned = {
      id: cannedEditing ? cannedEditing.id : undefined,
      shortcut: byId('canned-shortcut').value.trim().replace(/^\//, ''),
      title: byId('canned-title').value.trim(),
      text: byId('canned-text').value.trim(),
      personal: byId('canned-personal').checked,
    };
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(canned.shortcut)) return formError('canned-error', 'The shortcut is 1 to 32 letters, digits, - or _.');
    if (!canned.text) return formError('canned-error', 'The text is empty.');
    const btn = byId('canned-save');
    btn.disabled = true;
    const sent = request({ type: 'canned', action: 'save', canned }, (reply, err) => {
      btn.disabled = false;
      if (err) return formError('canned-error', humanError(err.error, err.code));
      if (reply.type !== 'canned') loadCanned(); // answered with a plain ack
      show(byId('canned-form'), false);
      toast(`Saved /${canned.shortcut}.`);
    }, true);
    if (!sent) btn.disabled = false;
  }

  function deleteCanned(k) {
    if (!window.confirm(`Delete the canned response /${k.shortcut}?`)) return;
    request({ type: 'canned', action: 'delete', canned: { id: k.id, shortcut: k.shortcut, text: k.text } }, (reply, err) => {
      if (!err && reply.type !== 'canned') loadCanned();
    });
  }

  // ---------------------------------------------------------------- triggers

  function loadTriggers() {
    if (S.ready) request({ type: 'triggers', action: 'list' }, null, true);
  }

  function triggerSummary(t) {
    const parts = [];
    if (t.url) parts.push(`page ${t.url}`);
    if (t.url_regexp) parts.push(`page ~ ${t.url_regexp}`);
    if (t.time_on_page) parts.push(`${duration(t.time_on_page)} on page`);
    if (t.min_pages) parts.push(`${t.min_pages}+ pages`);
    if (t.visitor) parts.push(`${t.visitor} visitors`);
    if (t.min_cart_value) parts.push(`cart ≥ ${money(t.min_cart_value, '')}`);
    if (t.referrer) parts.push(`from ${t.referrer}`);
    if (t.utm_campaign) parts.push(`campaign ${t.utm_campaign}`);
    if (t.business_hours) parts.push('business hours');
    parts.push(t.once === 'visitor' ? 'once per visitor' : 'once per visit');
    return parts.join(' · ');
  }

  function renderTriggers() {
    if (S.tab !== 'triggers') return;
    const box = byId('trigger-list');
    box.textContent = '';
    if (S.triggers === null) {
      box.append(h('div', { class: 'list-empty', text: 'Loading…' }));
      return;
    }
    if (!S.triggers.length) box.append(h('div', { class: 'list-empty', text: 'No triggers yet.' }));
    for (const t of S.triggers) {
      const toggle = h('input', { type: 'checkbox', 'data-sc': 'trigger-enabled', checked: !t.disabled, 'aria-label': `Enable ${t.name || t.id}` });
      toggle.addEventListener('change', () => saveTrigger(Object.assign({}, t, { disabled: !toggle.checked }), (err) => {
        if (err) toggle.checked = !t.disabled;
      }));
      const op = t.operator && S.operators.find((o) => o.id === t.operator);
      const action = t.action === 'suggest' ? 'Suggests an invitation to operators' : `Says${op ? ' as ' + (op.name || op.id) : ''}: “${t.message || ''}”`;
      box.append(h('div', { class: `tool-item${t.disabled ? ' disabled' : ''}`, 'data-sc': 'trigger-row', 'data-trigger': t.id },
        h('label', { class: 'tool-item-toggle', title: 'Enabled' }, toggle),
        h('div', { class: 'tool-item-main' },
          h('div', { class: 'tool-item-top' }, h('span', { class: 'item-name', text: t.name || t.id }), h('span', { class: 'tool-item-id', text: t.id })),
          h('div', { class: 'tool-item-sub', text: triggerSummary(t) }),
          h('div', { class: 'tool-item-text', text: action })),
        h('div', { class: 'tool-item-actions' },
          h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-sc': 'trigger-edit', text: 'Edit', onclick: () => openTriggerEditor(t) }),
          h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-sc': 'trigger-delete', text: 'Delete', onclick: () => deleteTrigger(t) }))));
    }
  }

  // The trigger form's inputs by protocol.Trigger field.
  const TF = {
    id: 'trigger-id', name: 'trigger-name', url: 'trigger-url', url_regexp: 'trigger-url-regexp',
    time_on_page: 'trigger-time', min_pages: 'trigger-pages', visitor: 'trigger-visitor', min_cart_value: 'trigger-cart',
    referrer: 'trigger-referrer', utm_campaign: 'trigger-utm', once: 'trigger-once', action: 'trigger-action',
    message: 'trigger-message', operator: 'trigger-operator',
  };
  const TF_NUM = ['time_on_page', 'min_pages', 'min_cart_value'];
  let triggerEditing = null;

  function openTriggerEditor(t) {
    triggerEditing = t || null;
    const sel = byId('trigger-operator');
    sel.textContent = '';
    sel.append(h('option', { value: '', text: 'The team' }));
    for (const o of S.operators) if (o && o.id) sel.append(h('option', { value: o.id, text: o.name || o.id }));
    t = t || { once: 'session', action: 'message' };
    for (const [k, id] of Object.entries(TF)) byId(id).value = t[k] === undefined || t[k] === 0 ? '' : String(t[k]);
    if (!byId('trigger-once').value) byId('trigger-once').value = 'session';
    if (!byId('trigger-action').value) byId('trigger-action').value = 'message';
    byId('trigger-id').readOnly = !!triggerEditing;
    byId('trigger-hours').checked = !!t.business_hours;
    byId('trigger-enabled').checked = !t.disabled;
    byId('trigger-form-title').textContent = triggerEditing ? `Edit ${t.name || t.id}` : 'New trigger';
    formError('trigger-error', '');
    show(byId('trigger-form'), true);
    byId(triggerEditing ? 'trigger-name' : 'trigger-id').focus();
  }

  function triggerFromForm() {
    const t = {};
    for (const [k, id] of Object.entries(TF)) {
      const v = byId(id).value.trim();
      if (v === '') continue;
      t[k] = TF_NUM.includes(k) ? Math.max(0, Math.floor(Number(v) || 0)) : v;
    }
    t.business_hours = byId('trigger-hours').checked;
    t.disabled = !byId('trigger-enabled').checked;
    return t;
  }

  // saveTrigger sends a trigger; done(err) gets the error frame, if any.
  function saveTrigger(t, done) {
    const sent = request({ type: 'triggers', action: 'save', trigger: t }, (reply, err) => {
      if (!err && reply.type !== 'triggers') loadTriggers();
      done(err);
    }, true);
    if (!sent) done({ error: 'not connected' });
  }

  byId('trigger-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = triggerFromForm();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(t.id || '')) return formError('trigger-error', 'The ID is letters, digits, - and _.');
    if ((t.action || 'message') === 'message' && !t.message) return formError('trigger-error', 'Write the message the visitor gets.');
    const btn = byId('trigger-save');
    btn.disabled = true;
    saveTrigger(t, (err) => {
      btn.disabled = false;
      if (err) return formError('trigger-error', humanError(err.error, err.code));
      show(byId('trigger-form'), false);
      toast(`Saved trigger ${t.name || t.id}.`);
    });
  });

  function deleteTrigger(t) {
    if (!window.confirm(`Delete the trigger ${t.name || t.id}?`)) return;
    request({ type: 'triggers', action: 'delete', trigger: { id: t.id } }, (reply, err) => {
      if (!err && reply.type !== 'triggers') loadTriggers();
    });
  }

  // ---------------------------------------------------------------- reports

  const isoDay = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  (() => {
    const to = new Date();
    const from = new Date(to.getFullYear(), to.getMonth(), to.getDate() - 6); // the last 7 days, today included
    byId('report-from').value = isoDay(from);
    byId('report-to').value = isoDay(to);
  })();

  function reportURL(format) {
    const q = new URLSearchParams({ from: byId('report-from').value, to: byId('report-to').value, period: byId('report-period').value });
    if (format) q.set('format', format);
    return `${mount}reports?${q}`;
  }

  let reportSeq = 0;
  async function loadReport() {
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

  for (const t of TABS) byId(`tab-${t}`).addEventListener('click', () => setTab(t));
  byId('canned-new').addEventListener('click', () => openCannedEditor(null));
  byId('canned-cancel').addEventListener('click', () => show(byId('canned-form'), false));
  byId('canned-form').addEventListener('submit', saveCanned);
  byId('trigger-new').addEventListener('click', () => openTriggerEditor(null));
  byId('trigger-cancel').addEventListener('click', () => show(byId('trigger-form'), false));
  byId('report-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadReport(); });
  for (const id of ['report-from', 'report-to', 'report-period']) byId(id).addEventListener('change', () => { byId('report-csv').href = reportURL('csv'); });
  byId('report-csv').href = reportURL('csv');

  // ---------------------------------------------------------------- wiring

  byId('presence').value = S.presence;
  byId('presence').addEventListener('change', (ev) => setPresence(ev.target.value));
  // Also notice a value set without an event (automation, form restore).
  setInterval(() => {
    const v = byId('presence').value;
    if ((v === 'online' || v === 'away') && v !== S.presence) setPresence(v);
  }, 1000);
  byId('search').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      doSearch(ev.target.value);
    } else if (ev.key === 'Escape') {
      clearSearch();
    }
  });
  byId('search').addEventListener('search', (ev) => { if (!ev.target.value) clearSearch(); });
  byId('search-clear').addEventListener('click', clearSearch);
  byId('transfer-go').addEventListener('click', transfer);
  byId('transfer-operator').addEventListener('change', renderTeamSelection);
  byId('details-close').addEventListener('click', () => {
    document.body.classList.remove('details-open');
    renderDrawer();
  });
  byId('scrim').addEventListener('click', () => {
    document.body.classList.remove('details-open');
    renderDrawer();
  });
  wideMQ.addEventListener('change', renderDrawer);
  narrowMQ.addEventListener('change', scheduleRender);

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && !S.ws && !S.unauthorized) reconnectNow();
    scheduleRender();
  });
  window.addEventListener('focus', scheduleRender);
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && document.body.classList.contains('details-open')) {
      document.body.classList.remove('details-open');
      renderDrawer();
    }
  });
  window.addEventListener('pagehide', () => {
    for (const p of S.panes) if (p.conv) p.conv.draft = p.input.value;
    clearTimeout(persistTimer);
    if (S.me) {
      const drafts = {};
      for (const c of S.convs.values()) if (c.draft) drafts[c.id] = c.draft;
      saveJSON(sessionStorage, STORE_KEY, { me: S.me.id, outbox: S.outbox.map(({ id, conv, type, text, ts }) => ({ id, conv, type, text, ts })), drafts });
    }
  });

  document.body.dataset.tab = S.tab;
  const first = new Pane(0);
  S.panes.push(first);
  S.focused = first;
  byId('panes').append(first.root);
  first.render();
  renderMe();
  renderNotifyButton();
  renderSound();
  renderDetails();
  renderLists();
  connect();
})();
