// shopchat operator console: sound and desktop notifications.

import { byId, show } from './helpers.js';
import { openConv } from './panes.js';

let audioCtx = null;
let lastBeep = 0;
export function unlockAudio() {
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC) return;
  try {
    if (!audioCtx) audioCtx = new AC();
    if (audioCtx.state === 'suspended') audioCtx.resume().catch(() => {});
  } catch (_) { audioCtx = null; }
}
document.addEventListener('pointerdown', unlockAudio, { passive: true });
document.addEventListener('keydown', unlockAudio);

export function beep() {
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

export function desktopNotify(title, body, convId) {
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

export function renderNotifyButton() {
  const btn = byId('notify-btn');
  show(btn, 'Notification' in window && Notification.permission === 'default');
}

byId('notify-btn').addEventListener('click', () => {
  if (!('Notification' in window)) return;
  const p = Notification.requestPermission((r) => renderNotifyButton());
  if (p && typeof p.then === 'function') p.then(renderNotifyButton, renderNotifyButton);
});
