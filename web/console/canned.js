// shopchat operator console: canned responses.

import { byId, h, humanError, show } from './helpers.js';
import { S } from './state.js';
import { toast } from './toasts.js';
import { request } from './connection.js';
import { resolve } from './frames.js';
import { renderCannedButtons } from './team.js';
import { formError } from './tabs.js';

export function setCanned(list) {
  S.canned = (list || []).filter((c) => c && typeof c.text === 'string');
  renderCannedButtons();
  renderCannedList();
}

// A canned frame answers a request with the whole list, or tells of
// another operator's change with one part of it: status "team" or "personal".
export function onCanned(f) {
  const part = f.status === 'team' || f.status === 'personal';
  if (!part || S.requests.has(f.id)) setCanned(f.canned);
  else setCanned(S.canned.filter((k) => !!k.personal !== (f.status === 'personal')).concat(f.canned || []));
  resolve(f);
}

export function loadCanned() {
  if (S.ready) request({ type: 'canned', action: 'list' }, null, true);
}

// fillCanned replaces a canned response's variables with what is known
// about the conversation's visitor; unknown ones stay as they are.
export function fillCanned(text, c) {
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

export function renderCannedList() {
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
export function openCannedEditor(k) {
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

export function saveCanned(ev) {
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
