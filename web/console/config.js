// shopchat operator console: where the server is (the console's mount path and
// socket URL) and limits the server enforces.

export const TITLE = 'shopchat console';
export const MAX_TEXT_BYTES = 4000;
export const HISTORY_PAGE = 50;
export const STORE_KEY = 'shopchat.console.v1';
export const PREF_KEY = 'shopchat.console.prefs';

export const mount = (() => {
  const p = location.pathname;
  const i = p.lastIndexOf('/console/');
  if (i >= 0) return p.slice(0, i + 1);
  if (p.endsWith('/console')) return p.slice(0, -'console'.length);
  return '/chat/';
})();
export const socketURL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + mount + 'operator/ws';
export const probeURL = mount + 'operator/ws';
