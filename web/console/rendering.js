// shopchat operator console: rendering the lists, the title and the header,
// batched into one microtask.

import { PREF_KEY, TITLE } from './config.js';
import { byId, duration, fillAvatar, h, parseTime, saveJSON, shortTime, show } from './helpers.js';
import { S, prefs, visitorName } from './state.js';
import { beep, unlockAudio } from './alerts.js';
import { renderDetails } from './details.js';
import { accept } from './actions.js';
import { markRead, openConv } from './panes.js';

let renderQueued = false;
export function scheduleRender() {
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

export function renderMe() {
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
export function announce(text) {
  const el = byId('announcer');
  el.textContent = '';
  clearTimeout(announceT);
  announceT = setTimeout(() => { el.textContent = text; }, 50);
}

export function renderSound() {
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

export function renderLists() {
  renderQueue();
  renderConvList();
}

// reconcile keeps container's children in the order of keys, reusing the
// element cache and building new ones with make.
export function reconcile(container, cache, keys, make, update) {
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
    else if (last) preview = (last.kind === 'operator' ? 'You: ' : last.kind === 'note' ? 'Note: ' : last.kind === 'bot' ? 'Bot: ' : '') + String(last.text).replace(/\s+/g, ' ').slice(0, 120);
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
