// shopchat operator console: toasts.

import { byId, h } from './helpers.js';

export function toast(text, kind) {
  const box = byId('toasts');
  const el = h('div', { class: `toast${kind ? ' toast-' + kind : ''}`, text });
  box.append(el);
  while (box.children.length > 4) box.firstChild.remove();
  setTimeout(() => {
    el.classList.add('toast-out');
    setTimeout(() => el.remove(), 300);
  }, kind === 'error' ? 6000 : 3500);
}
