// shopchat operator console: the triggers tab.

import { byId, duration, h, humanError, money, show } from './helpers.js';
import { S } from './state.js';
import { toast } from './toasts.js';
import { request } from './connection.js';
import { formError } from './tabs.js';

export function loadTriggers() {
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

export function renderTriggers() {
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

export function openTriggerEditor(t) {
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
