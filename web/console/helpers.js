// shopchat operator console: DOM building, text, time and money formatting,
// avatars, storage.

export const byId = (id) => document.getElementById(id);

// h builds an element. attrs: class, text, hidden, data-*, aria-*, on<event>
// handlers and plain attributes. Children are nodes or strings (as text).
export function h(tag, attrs, ...kids) {
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

export function show(el, on) {
  if (el) el.hidden = !on;
}

export function uid() {
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
export const byteLength = (s) => encoder.encode(s).length;

// safeURL returns the normalised URL if s is an absolute http(s) URL.
export function safeURL(s) {
  if (typeof s !== 'string' || s === '') return null;
  try {
    const u = new URL(s);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
  } catch (_) { /* not a URL */ }
  return null;
}

export function externalLink(url, text) {
  const href = safeURL(url);
  if (!href) return h('span', { text: text || url || '' });
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer', text: text || url });
}

// appendLinkified appends text to el, turning http(s) URLs into links.
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
export function appendLinkified(el, text) {
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

export function parseTime(ts) {
  if (!ts) return null;
  const d = new Date(ts);
  if (isNaN(d.getTime()) || d.getUTCFullYear() < 1971) return null;
  return d;
}

const fmtClock = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
export const fmtDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fmtFull = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const fmtCompact = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const fmtCompactYear = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

export function shortTime(d) {
  if (!d) return '';
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return fmtClock.format(d);
  return fmtDay.format(d);
}

export function fullTime(d) {
  return d ? fmtFull.format(d) : '';
}

export function compactTime(d) {
  if (!d) return '';
  if (d.getFullYear() !== new Date().getFullYear()) return fmtCompactYear.format(d);
  return fmtCompact.format(d);
}

export function duration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  if (seconds < 60) return `${seconds}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m`;
  const hrs = Math.floor(m / 60);
  if (hrs < 24) return `${hrs}h ${m % 60}m`;
  return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
}

export function money(minor, currency) {
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
export function applyBrand(hex) {
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

export function humanError(text, code) {
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
export function fillAvatar(el, name, url, key) {
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

export const narrowMQ = window.matchMedia('(max-width: 719px)');
export const wideMQ = window.matchMedia('(min-width: 1200px)');
export const splitMQ = window.matchMedia('(min-width: 1280px)');

export function loadJSON(storage, key) {
  try { return JSON.parse(storage.getItem(key) || 'null'); } catch (_) { return null; }
}
export function saveJSON(storage, key, value) {
  try { storage.setItem(key, JSON.stringify(value)); } catch (_) { /* full or disabled */ }
}
