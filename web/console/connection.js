// shopchat operator console: the operator socket: connecting, requests and
// their answers, reconnecting with backoff.

import { probeURL, socketURL } from './config.js';
import { byId, show, uid } from './helpers.js';
import { S } from './state.js';
import { toast } from './toasts.js';
import { handleFrame } from './frames.js';
import { renderOutboxStatus } from './outbox.js';
import { scheduleRender } from './rendering.js';

export function setBodyState(state) {
  document.body.dataset.state = state;
}

export function sendFrame(f) {
  if (!S.ws || S.ws.readyState !== WebSocket.OPEN) return false;
  S.ws.send(JSON.stringify(f));
  return true;
}

// request sends a frame with a fresh id and calls cb(frame, error) with its
// answer (ack or the typed reply, or an error frame).
// quiet requests show their errors themselves (next to a form).
export function request(f, cb, quiet) {
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

export function connect() {
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

export function reconnectNow() {
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
export function renderConn() {
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
