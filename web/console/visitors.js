// shopchat operator console: the live visitors tab and invitations.

import { MAX_TEXT_BYTES } from './config.js';
import { byId, byteLength, duration, fillAvatar, h, humanError, money, parseTime, show } from './helpers.js';
import { S, visitorName } from './state.js';
import { toast } from './toasts.js';
import { request } from './connection.js';
import { reconcile } from './rendering.js';
import { formError } from './tabs.js';

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

// onVisitors takes a visitors frame: the answer to our request is the
// whole list (the most relevant few hundred visitors); frames pushed after
// it are deltas: visitors added or changed, ids gone, and the counts of all.
export function onVisitors(f) {
  if (!f.delta) S.liveById = new Map();
  for (const v of f.live || []) if (v && v.id) S.liveById.set(v.id, v);
  for (const id of f.gone || []) S.liveById.delete(id);
  S.live = Array.from(S.liveById.values());
  S.liveCounts = f.counts || null;
  renderVisitors();
}

export function renderVisitors() {
  const list = S.live.filter((v) => v && v.id);
  // Suggested first, then the longest on the site.
  list.sort((a, b) => Number(!!b.suggested) - Number(!!a.suggested) || (Date.parse(a.first_seen) || 0) - (Date.parse(b.first_seen) || 0));
  const c = S.liveCounts;
  const onSite = c ? c.on_site || 0 : list.filter((v) => v.on_site).length;
  byId('visitors-count').textContent = onSite ? String(onSite) : '';
  if (S.tab !== 'visitors') return;
  // On the site now first; those who left recently after them, not invitable.
  list.sort((a, b) => Number(!!b.on_site) - Number(!!a.on_site));
  const here = list.filter((v) => v.on_site);
  const chatting = c ? c.chatting || 0 : here.filter((v) => v.chatting).length;
  const left = c ? c.left || 0 : list.length - here.length;
  const shown = onSite + left > list.length ? ` · showing ${list.length}` : '';
  byId('visitors-sub').textContent = onSite + left ? `${onSite} on the site · ${chatting} chatting · ${left} recently left${shown}` : '';
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
