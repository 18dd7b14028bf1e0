// shopchat operator console: the team and the transfer form.

import { byId, fillAvatar, h, show } from './helpers.js';
import { S } from './state.js';

export function renderTeam() {
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

export function renderTeamSelection() {
  const v = byId('transfer-operator').value;
  for (const el of byId('team').querySelectorAll('.member')) el.classList.toggle('selected', el.dataset.op === v);
  byId('transfer-department').disabled = !!v;
}

export function renderCannedButtons() {
  for (const p of S.panes) p.renderComposer();
}
