// shopchat operator console: conversation actions (accept, close, reopen,
// transfer, transcript) and presence.

import { PREF_KEY } from './config.js';
import { byId, humanError, saveJSON } from './helpers.js';
import { S, prefs } from './state.js';
import { toast } from './toasts.js';
import { request } from './connection.js';
import { openConv } from './panes.js';
import { renderMe } from './rendering.js';
import { renderTeamSelection } from './team.js';

// accept takes a conversation from the queue. At capacity the server
// refuses; the operator may then choose to take it anyway (force).
export function accept(convId, btn, force) {
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

export function closeConv(c) {
  request({ type: 'close', conv: c.id }, (reply, err) => {
    if (!err) toast('Conversation closed.');
  });
}

export function sendTranscript(c) {
  request({ type: 'transcript', conv: c.id }, (reply, err) => {
    if (!err) toast('Transcript sent to the visitor.');
  });
}

export function reopenConv(c) {
  request({ type: 'reopen', conv: c.id }, (reply, err) => {
    if (err) return;
    if (c.assignedToMe) {
      openConv(c.id);
    } else if (c.status === 'queued') {
      toast('Reopened; it is waiting in the queue.');
    }
  });
}

export function transfer() {
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

export function setPresence(status) {
  S.presence = status === 'away' ? 'away' : 'online';
  prefs.presence = S.presence;
  saveJSON(localStorage, PREF_KEY, prefs);
  renderMe();
  if (S.ready) request({ type: 'presence', status: S.presence });
}
