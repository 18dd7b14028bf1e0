/* shopchat visitor widget: plain ES2020, no dependencies, one IIFE.
 * Protocol: docs/protocol.md. Every piece of user or server text is rendered
 * with textContent (or as the text of an http(s) link); never as HTML. */
(() => {
  'use strict';
  if ((window.shopchat && window.shopchat.open) || document.getElementById('shopchat')) return;
  const CSS = "__SHOPCHAT_CSS__";

  // ---- where we are mounted: the script's own URL minus "widget.js"
  const SRC = new URL((document.currentScript && document.currentScript.src) || '/chat/widget.js', location.href);
  const BASE = SRC.origin + SRC.pathname.replace(/[^/]*$/, '');
  const WS_URL = BASE.replace(/^http/, 'ws') + 'ws';
  const KEY = 'shopchat:v1:';

  // ---- strings: one table, English is the fallback for missing keys
  const T = {
    en: {
      ev: { joined: '{n} joined the conversation', transferred: '{n} transferred the conversation to {m}', closed: '{n} closed the conversation', visitor_closed: 'You closed the conversation', operator_offline: '{n} is offline; the conversation waits for another operator' },
      open: 'Open chat', unread: 'Open chat, {n} unread', close: 'Close chat', title: 'Support', hi: 'Hi! How can we help?',
      ph: 'Write a message…', send: 'Send', msg: 'Message', details: 'Your details', name: 'Name',
      email: 'Email', save: 'Save', saved: 'Saved', sending: 'Sending…', seen: 'Seen',
      typing: '{n} is typing…', someone: 'Someone', queue: 'You are number {p} in line',
      wait: 'about {m} min', waiting: 'Waiting for an operator…', conn: 'Connecting…',
      reconn: 'Reconnecting…', online: 'We are online', away: 'Leave us a message',
      offline: "We're offline right now. Leave a message and we'll reply by email.",
      offdone: "Thanks! We'll reply by email.", pre: 'Before we start, tell us a little about you.',
      start: 'Start chat', earlier: 'Earlier conversations', earlierMsgs: 'Earlier messages',
      retry: 'Retry', failed: 'Not sent.', slow: 'Sending too fast; retrying…',
      attach: 'Attach a file', photo: 'Take a photo', upl: 'Uploading', cancel: 'Remove', upfail: 'Upload failed.', big: 'This file is too large.', full: 'Open {n} full size',
      bad: 'Please check your details.', long: 'This message is too long.', dismiss: 'Dismiss',
      choose: 'Choose…', chat: 'Chat', you: 'You', mailMe: 'Email me this conversation', mailed: 'Transcript sent', mailOk: 'Email me replies I miss',
      rate: 'How was your chat?', star: '{n} of 5', comment: 'Comment (optional)', thanks: 'Thank you for your feedback!',
      bot: 'Bot', replies: 'Suggested replies',
    },
    es: {
      ev: { joined: '{n} se unió a la conversación', transferred: '{n} transfirió la conversación a {m}', closed: '{n} cerró la conversación', visitor_closed: 'Cerraste la conversación', operator_offline: '{n} no está conectado; la conversación espera a otro agente' },
      open: 'Abrir chat', unread: 'Abrir chat, {n} sin leer', close: 'Cerrar chat', title: 'Soporte', hi: '¡Hola! ¿En qué podemos ayudarte?',
      ph: 'Escribe un mensaje…', send: 'Enviar', msg: 'Mensaje', details: 'Tus datos', name: 'Nombre',
      email: 'Correo electrónico', save: 'Guardar', saved: 'Guardado', sending: 'Enviando…', seen: 'Visto',
      typing: '{n} está escribiendo…', someone: 'Alguien', queue: 'Eres el número {p} en la cola',
      wait: 'unos {m} min', waiting: 'Esperando a un agente…', conn: 'Conectando…',
      reconn: 'Reconectando…', online: 'Estamos en línea', away: 'Déjanos un mensaje',
      offline: 'Ahora no estamos disponibles. Déjanos un mensaje y te responderemos por correo.',
      offdone: '¡Gracias! Te responderemos por correo.', pre: 'Antes de empezar, cuéntanos un poco sobre ti.',
      start: 'Iniciar chat', earlier: 'Conversaciones anteriores', earlierMsgs: 'Mensajes anteriores',
      retry: 'Reintentar', failed: 'No enviado.', slow: 'Demasiados mensajes; reintentando…',
      bad: 'Revisa tus datos.', long: 'El mensaje es demasiado largo.', dismiss: 'Descartar',
      choose: 'Elige…', you: 'Tú',
      mailMe: 'Envíame esta conversación', mailed: 'Transcripción enviada', mailOk: 'Envíame por correo las respuestas que no vea',
      rate: '¿Qué tal fue el chat?', star: '{n} de 5', comment: 'Comentario (opcional)', thanks: '¡Gracias por tu opinión!',
      bot: 'Bot', replies: 'Respuestas sugeridas',
    },
    ru: {
      ev: { joined: '{n} присоединяется к разговору', transferred: '{n} передаёт разговор: {m}', closed: '{n} завершает разговор', visitor_closed: 'Вы завершили разговор', operator_offline: '{n} не в сети; разговор ждёт другого оператора' },
      open: 'Открыть чат', unread: 'Открыть чат, непрочитанных: {n}', close: 'Закрыть чат', title: 'Поддержка', hi: 'Здравствуйте! Чем можем помочь?',
      ph: 'Напишите сообщение…', send: 'Отправить', msg: 'Сообщение', details: 'Ваши данные', name: 'Имя',
      email: 'Эл. почта', save: 'Сохранить', saved: 'Сохранено', sending: 'Отправка…', seen: 'Прочитано',
      typing: '{n} печатает…', someone: 'Оператор', queue: 'Вы {p}-й в очереди',
      wait: 'примерно {m} мин', waiting: 'Ожидаем оператора…', conn: 'Подключение…',
      reconn: 'Переподключение…', online: 'Мы на связи', away: 'Оставьте нам сообщение',
      offline: 'Сейчас никого нет на месте. Оставьте сообщение, и мы ответим по электронной почте.',
      offdone: 'Спасибо! Мы ответим по электронной почте.', pre: 'Прежде чем начать, расскажите немного о себе.',
      start: 'Начать чат', earlier: 'Предыдущие разговоры', earlierMsgs: 'Предыдущие сообщения',
      retry: 'Повторить', failed: 'Не отправлено.', slow: 'Слишком много сообщений; повторяем…',
      bad: 'Проверьте введённые данные.', long: 'Сообщение слишком длинное.', dismiss: 'Скрыть',
      choose: 'Выберите…', chat: 'Чат', you: 'Вы',
      mailMe: 'Отправить переписку на почту', mailed: 'Переписка отправлена', mailOk: 'Присылать пропущенные ответы на почту',
      rate: 'Как прошёл разговор?', star: '{n} из 5', comment: 'Комментарий (необязательно)', thanks: 'Спасибо за отзыв!',
      bot: 'Бот', replies: 'Варианты ответа',
    },
    de: {
      ev: { joined: '{n} ist dem Chat beigetreten', transferred: '{n} hat den Chat an {m} übergeben', closed: '{n} hat den Chat beendet', visitor_closed: 'Sie haben den Chat beendet', operator_offline: '{n} ist offline; der Chat wartet auf einen anderen Mitarbeiter' },
      open: 'Chat öffnen', unread: 'Chat öffnen, {n} ungelesen', close: 'Chat schließen', hi: 'Hallo! Wie können wir helfen?',
      ph: 'Nachricht schreiben…', send: 'Senden', msg: 'Nachricht', details: 'Ihre Angaben',
      email: 'E-Mail', save: 'Speichern', saved: 'Gespeichert', sending: 'Wird gesendet…', seen: 'Gesehen',
      typing: '{n} schreibt…', someone: 'Jemand', queue: 'Sie sind Nummer {p} in der Warteschlange',
      wait: 'ca. {m} Min.', waiting: 'Warten auf einen Mitarbeiter…', conn: 'Verbinden…',
      reconn: 'Verbindung wird wiederhergestellt…', online: 'Wir sind online', away: 'Hinterlassen Sie uns eine Nachricht',
      offline: 'Wir sind gerade nicht erreichbar. Hinterlassen Sie eine Nachricht, wir antworten per E-Mail.',
      offdone: 'Danke! Wir antworten per E-Mail.', pre: 'Bevor es losgeht: Erzählen Sie uns kurz etwas über sich.',
      start: 'Chat starten', earlier: 'Frühere Unterhaltungen', earlierMsgs: 'Frühere Nachrichten',
      retry: 'Erneut versuchen', failed: 'Nicht gesendet.', slow: 'Zu viele Nachrichten; neuer Versuch…',
      bad: 'Bitte prüfen Sie Ihre Angaben.', long: 'Die Nachricht ist zu lang.', dismiss: 'Ausblenden',
      choose: 'Bitte wählen…', you: 'Sie',
      mailMe: 'Verlauf per E-Mail senden', mailed: 'Verlauf gesendet', mailOk: 'Verpasste Antworten per E-Mail senden',
      rate: 'Wie war der Chat?', star: '{n} von 5', comment: 'Kommentar (optional)', thanks: 'Danke für Ihr Feedback!',
      bot: 'Bot', replies: 'Antwortvorschläge',
    },
  };
  let lang = 'en', t = T.en, tr = {}, team = ''; // tr: the shop's strings in lang
  const fmt = (s, o) => s.replace(/\{(\w)\}/g, (_, k) => o[k]);

  // ---- small helpers
  const st = (local, k, v) => { // storage that never throws (private mode, sandboxed frames)
    try {
      const s = local ? localStorage : sessionStorage;
      if (v === undefined) return JSON.parse(s.getItem(k));
      if (v === null) s.removeItem(k); else s.setItem(k, JSON.stringify(v));
    } catch (e) { /* storage unavailable or full */ }
    return null;
  };
  const uuid = () => {
    try { return crypto.randomUUID(); } catch (e) { /* insecure context */ }
    const b = new Uint8Array(16);
    try { crypto.getRandomValues(b); } catch (e) { for (let i = 0; i < 16; i++) b[i] = Math.random() * 256; }
    return Array.from(b, x => x.toString(16).padStart(2, '0')).join('');
  };
  const safeURL = s => { // absolute http(s) URL or null
    if (typeof s !== 'string' || !s) return null;
    try { const u = new URL(s, location.href); return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null; } catch (e) { return null; }
  };
  const h = (tag, a, ...kids) => {
    const e = document.createElement(tag);
    for (const k in a) {
      const v = a[k];
      if (v == null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'sc') e.setAttribute('data-sc', v);
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids) if (c != null) e.append(c);
    return e;
  };
  const svg = (d, cls) => {
    const NS = 'http://www.w3.org/2000/svg', s = document.createElementNS(NS, 'svg'), p = document.createElementNS(NS, 'path');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    if (cls) s.setAttribute('class', cls);
    p.setAttribute('d', d);
    s.append(p);
    return s;
  };
  const I_CHAT = 'M4 5a2 2 0 0 1 2-2h12a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4z';
  const I_X = 'M6 6l12 12M18 6L6 18';
  const I_USER = 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7.5 8a7.5 7 0 0 1 15 0z';
  const I_SEND = 'M3 20.5l18-8.5L3 3.5V10l12 2-12 2z';
  const I_CLIP = 'M20 11.5l-8 8a5 5 0 0 1-7-7l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7L9.7 17.2a1.7 1.7 0 0 1-2.4-2.4L15 7';
  const I_CAM = 'M4 8h3.5l2-3h5l2 3H20v11H4zM12 16.5a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z';
  const bytes = s => new TextEncoder().encode(s).length;
  const cut = (s, n) => { s = String(s || ''); while (bytes(s) > n) s = s.slice(0, -1); return s; };
  const prof = (name, email, fields, wait) => ({ type: 'profile', id: uuid(), name: cut(name, 100), email: cut(email, 254), fields, wait });
  const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);
  const ts = m => Date.parse(m && m.ts) || 0;
  const when = (v, o) => { const d = new Date(v || Date.now()); try { return d.toLocaleString(lang, o); } catch (e) { return d.toLocaleString(); } };

  // Text with http(s) links made clickable; everything else stays text.
  const URLRE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  const fill = (el, text) => {
    let last = 0, m;
    URLRE.lastIndex = 0;
    while ((m = URLRE.exec(text))) {
      let s = m[0];
      while (/[.,;:!?'"\]}*]$/.test(s) || (s.endsWith(')') && s.split('(').length < s.split(')').length)) s = s.slice(0, -1);
      let href = null;
      try { const u = new URL(s); if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href; } catch (e) { /* not a URL */ }
      if (!href) continue;
      el.append(text.slice(last, m.index), h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow', text: s }));
      last = URLRE.lastIndex = m.index + s.length;
    }
    el.append(text.slice(last));
  };

  // ---- state
  let cfg = null, cfgJSON = '';
  let me = {};                 // the visitor: id, name, email
  let convs = new Map();       // conversation id -> {id, status, epoch, last_seq, created, operator, queue, operator_read, visitor_read, msgs: Map(seq -> message), more, floor, loaded}
  let outbox = [];             // frames not yet acked: {type: 'message'|'profile', id, text, dept, ts, name, email, fields, wait, fail, slow}
  let prechat = null;          // {a: answers, done, sent}
  let offDone = false;         // the offline form was sent this session
  let avail = null;            // an operator is online (null: not known yet)
  let ws = null, ready = false, wasReady = false, opened = false, connecting = false, needSession = true;
  let attempt = 0, timer = 0, sentNow = new Set();
  let ui = null, isOpen = false, wantOpen = false, pendingBubble = null, detId = '';
  let readSent = {}, hist = {};
  let invite = null;           // an invitation not answered yet: {id, text, operator, trigger}
  let rateConv = '', rated = new Set(st(1, KEY + 'rated') || []), thanked = false; // CSAT: the closed conversation to rate
  let dormant = false, lazy = true, pageKey = ''; // dormant: no visitor until they interact (Config.CookieOnInteraction)
  const nodes = new Map();     // render key -> DOM node: "conv:seq", "p:<client id>", "d:conv"
  const dismissed = new Set(st(1, KEY + 'dismissed') || []);

  const host = document.createElement('div');
  host.id = 'shopchat';
  host.setAttribute('data-state', 'connecting');
  const root = host.attachShadow({ mode: 'open' });

  const created = c => Date.parse(c.created) || Math.min(...[...c.msgs.values()].map(ts), Infinity);
  const byCreated = (a, b) => created(a) - created(b);
  const seqs = c => [...c.msgs.keys()];
  const maxSeq = c => Math.max(0, ...seqs(c));
  const minSeq = c => Math.min(Infinity, ...seqs(c));
  const current = () => [...convs.values()].filter(c => c.status === 'queued' || c.status === 'assigned').sort(byCreated).pop();
  const ensure = id => {
    let c = convs.get(id);
    if (!c) convs.set(id, c = { id, status: '', last_seq: 0, msgs: new Map(), operator_read: 0, visitor_read: 0 });
    return c;
  };
  const resetConv = c => {
    for (const s of c.msgs.keys()) nodes.delete(c.id + ':' + s);
    c.msgs.clear();
    c.more = c.loaded = false;
    c.operator_read = c.visitor_read = c.last_seq = 0;
    delete c.floor;
    readSent[c.id] = 0;
  };
  const upsert = w => {
    const c = ensure(w.id), was = c.status, hadOp = c.operator || [...c.msgs.values()].some(m => m.kind === 'operator');
    if (c.msgs.size && c.epoch !== w.epoch) resetConv(c); // history could have been lost: drop ours, take the replay
    if ((was === 'queued' || was === 'assigned') && w.status === 'closed' && hadOp && !rated.has(w.id)) { rateConv = w.id; thanked = false; }
    Object.assign(c, {
      epoch: w.epoch, status: w.status, created: w.created, operator: w.operator || null, queue: w.queue || null,
      last_seq: Math.max(c.last_seq || 0, w.last_seq || 0),
      operator_read: Math.max(c.operator_read || 0, w.operator_read || 0),
      visitor_read: Math.max(c.visitor_read || 0, w.visitor_read || 0),
    });
    return c;
  };

  // ---- persistence: per tab, per visitor (a reload renders at once and resumes)
  let saveT = 0;
  const saveNow = () => {
    clearTimeout(saveT);
    if (!me.id) return;
    const cs = [...convs.values()].filter(c => c.msgs.size).sort(byCreated).slice(-5).map(c => {
      const ms = [...c.msgs.values()].sort((a, b) => a.seq - b.seq);
      return Object.assign({}, c, { msgs: ms.slice(-200), more: c.more || ms.length > 200, floor: undefined });
    });
    st(0, KEY + me.id, { c: cs, o: outbox.map(e => Object.assign({}, e, { slow: undefined })), p: prechat, d: offDone, i: invite, r: rateConv });
  };
  const save = () => { clearTimeout(saveT); saveT = setTimeout(saveNow, 250); };
  const load = () => {
    const d = st(0, KEY + me.id) || {};
    for (const x of d.c || []) {
      const c = ensure(x.id);
      Object.assign(c, x, { msgs: new Map((x.msgs || []).map(m => [m.seq, m])) });
      c.more = c.more || minSeq(c) > 1;
    }
    const old = d.o || [];
    outbox = old.concat(outbox.filter(e => !old.some(o => o.id === e.id)));
    prechat = d.p || prechat;
    offDone = !!d.d;
    invite = invite || d.i || null;
    rateConv = rateConv || d.r || '';
  };

  // ---- the connection
  const send = f => {
    if (!ws || ws.readyState !== 1) return false;
    try { ws.send(JSON.stringify(f)); return true; } catch (e) { return false; }
  };
  const flush = () => {
    if (!ready) return;
    for (const e of outbox) {
      if (e.fail || sentNow.has(e.id) || (e.wait && outbox.some(x => x.id === e.wait))) continue;
      const f = { type: e.type, id: e.id };
      if (e.type === 'message') { f.text = e.text; if (e.dept) f.department = e.dept; if (e.att) f.attachments = e.att.map(a => a.id); } else Object.assign(f, { conv: e.conv, status: e.status, name: e.name || undefined, email: e.email || undefined, fields: e.fields, rating: e.rating, text: e.text, action: e.action, invite: e.invite });
      if (send(f)) { sentNow.add(e.id); watch(); }
    }
  };
  // A socket that died silently (no close event yet) would keep messages "sending":
  // when sent frames wait for acks and nothing at all arrived for 12 s, reconnect.
  let lastRx = 0, watchT = 0;
  const watch = () => {
    if (watchT) return;
    watchT = setTimeout(() => {
      watchT = 0;
      if (!ready || !outbox.some(e => sentNow.has(e.id))) return;
      if (Date.now() - lastRx > 12000) ws.close(); else watch();
    }, 12500);
  };
  const setConn = s => {
    host.setAttribute('data-state', s);
    if (ui) {
      ui.status.textContent = s === 'ready' || s === 'idle' ? '' : wasReady ? t.reconn : t.conn;
      ui.status.hidden = !ui.status.textContent;
    }
  };
  const retry = () => {
    if (timer) return;
    const d = Math.min(15000, 500 * 2 ** attempt++);
    timer = setTimeout(connect, Math.max(500, d / 2 + Math.random() * d / 2));
  };
  const session = async () => {
    // With cookie_on_interaction the first call is passive: the server creates no visitor and sets no cookie.
    const r = await fetch(BASE + 'session' + (lazy ? '?passive=1' : ''), { method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error('shopchat: session ' + r.status);
    const d = await r.json();
    const v = d.visitor || {};
    if (me.id !== v.id) { // first load, or a new visitor (token expired, logged out): their own history
      for (const c of convs.values()) resetConv(c);
      convs = new Map(); nodes.clear(); readSent = {}; prechat = null; offDone = false;
      me = Object.assign({}, v);
      load();
    } else Object.assign(me, v);
    needSession = false;
    dormant = !v.id && !!(d.widget && d.widget.cookie_on_interaction);
    const j = JSON.stringify(d.widget || {});
    if (!ui || (j !== cfgJSON && !isOpen)) { cfg = d.widget || {}; cfgJSON = j; build(); }
  };
  // Where WebSocket fails before opening twice while the session endpoint answers (a proxy that
  // breaks it), the page goes on with Server-Sent Events down and POST up: the same frames,
  // behind an object that looks like a WebSocket to the code below.
  let wsFails = 0;
  const sse = () => {
    const s = { readyState: 0 }, q = [], es = new EventSource(BASE + 'sse');
    let id = '', busy = false;
    const end = () => { if (s.readyState < 3) { s.readyState = 3; es.close(); s.onclose(); } };
    const post = () => { // one at a time: frames arrive in order
      if (busy || !q.length || s.readyState !== 1) return;
      busy = true;
      fetch(BASE + 'sse', { method: 'POST', credentials: 'same-origin', headers: { 'X-Shopchat-Stream': id }, body: q[0] }).then(r => {
        busy = false;
        if (r.status === 429) return setTimeout(post, 300);
        if (!r.ok) return end();
        q.shift(); post();
      }, end);
    };
    es.addEventListener('stream', e => { id = e.data; s.readyState = 1; s.onopen(); });
    es.addEventListener('close', end);
    es.onmessage = e => s.onmessage(e);
    es.onerror = end; // no EventSource retries: connect() resumes as for a socket
    s.send = d => { q.push(d); post(); };
    s.close = end;
    return s;
  };
  const connect = async () => {
    clearTimeout(timer); timer = 0;
    if (ws || connecting) return;
    connecting = true;
    setConn('connecting');
    try {
      if (needSession || !ui) await session();
    } catch (e) {
      connecting = false;
      if (wsFails < 2) wsFails = 0; // the server is unreachable: sockets' failures say nothing
      if (!ui) { cfg = {}; build(); } // server unreachable: still take messages into the outbox
      setConn('offline');
      return retry();
    }
    connecting = false;
    if (dormant) { needSession = true; return setConn('idle'); } // wake() connects once the visitor opens the chat
    let s;
    const viaSSE = wsFails > 1 && window.EventSource;
    try { s = viaSSE ? sse() : new WebSocket(WS_URL); } catch (e) { setConn('offline'); return retry(); }
    ws = s; opened = ready = false; sentNow = new Set();
    s.onopen = () => {
      opened = true;
      if (!viaSSE) wsFails = 0;
      const resume = [...convs.values()].filter(c => c.msgs.size).map(c => ({ conv: c.id, seq: maxSeq(c), epoch: c.epoch || 0 }));
      send(resume.length ? { v: 1, type: 'hello', lang, resume } : { v: 1, type: 'hello', lang });
    };
    s.onmessage = e => {
      if (ws !== s) return;
      lastRx = Date.now();
      let f;
      try { f = JSON.parse(e.data); } catch (x) { return; }
      onFrame(f);
    };
    s.onclose = () => {
      if (ws !== s) return;
      ws = null; ready = false; hist = {};
      if (!opened) { needSession = true; if (!viaSSE) wsFails++; } // maybe a 401: the token expired; get a fresh one first
      myTyping = false;
      typingOn(false);
      setConn('offline');
      retry();
    };
  };
  const reconnectNow = () => { if (!ws && !connecting && !dormant) { attempt = 0; connect(); } };
  const wake = () => { lazy = false; if (dormant) { dormant = false; reconnectNow(); } };
  // page: where the widget is, once per connection and page (SPA navigation: history, popstate, title changes)
  const pageK = () => location.pathname + location.search + '\n' + document.title;
  const sendPage = () => {
    const url = location.pathname + location.search, k = pageK();
    if (ready && k !== pageKey && send({ type: 'page', url: cut(url, 2048), title: cut(document.title, 300), referrer: cut(document.referrer, 2048) })) pageKey = k;
  };
  // An SPA sets the URL, then the title: one frame per 300 ms carries both.
  let pageT = 0;
  const pageSoon = () => { if (!pageT && pageK() !== pageKey) pageT = setTimeout(() => { pageT = 0; sendPage(); }, 300); };
  const watchNav = () => {
    for (const m of ['pushState', 'replaceState']) {
      const orig = history[m];
      if (typeof orig !== 'function' || orig.sc) continue;
      // The shop's call keeps its this, result and exceptions; ours never reach it.
      const w = function (...a) { const r = orig.apply(this, a); try { pageSoon(); } catch (e) { } return r; };
      w.sc = 1;
      try { history[m] = w; } catch (e) { }
    }
    // the title: its text changes or a new <title> replaces it (head subtree); other head churn fails pageK's check
    if (document.head) new MutationObserver(pageSoon).observe(document.head, { childList: true, subtree: true, characterData: true });
  };

  // ---- frames from the server
  const onFrame = f => {
    switch (f.type) {
      case 'welcome': {
        avail = !!f.available;
        const listed = new Set();
        for (const c of f.conversations || []) { upsert(c); listed.add(c.id); }
        for (const c of [...convs.values()]) if (!listed.has(c.id)) { resetConv(c); convs.delete(c.id); nodes.delete('d:' + c.id); }
        break;
      }
      case 'synced':
        ready = wasReady = true; attempt = 0; pageKey = '';
        sendPage();
        flush();
        if (!convs.size || ![...convs.values()].some(c => c.msgs.size)) loadEarlier(); // show the latest conversation
        renderNow();
        markRead();
        bubbleUnread();
        setConn('ready');
        save();
        return;
      case 'message': addMsg(f.message, ready); break;
      case 'ack': onAck(f); break;
      case 'state': if (f.conversation) upsert(f.conversation); break;
      case 'typing': if (f.from === 'operator') typingOn(!!f.typing); return;
      case 'read': {
        const c = convs.get(f.conv);
        if (c) { const k = f.from === 'operator' ? 'operator_read' : 'visitor_read'; c[k] = Math.max(c[k] || 0, f.seq || 0); }
        break;
      }
      case 'history': onHistory(f); break;
      case 'available': avail = !!f.available; break;
      case 'invite': {
        const i = f.invite;
        if (!i || !i.text || current()) return;
        invite = i; thanked = false;
        if (isOpen) toBottom = true; else bubble(((i.operator && i.operator.name) ? i.operator.name + ': ' : '') + i.text, 'i:' + i.id);
        break;
      }
      case 'error': onError(f); break;
      default: return;
    }
    if (invite && current()) invite = null; // the conversation it opened starts with it
    render();
    save();
  };

  const addMsg = (m, live) => {
    if (!m || !m.conv || !m.seq || m.kind === 'note') return;
    const c = ensure(m.conv);
    if (c.msgs.has(m.seq)) return; // replays never duplicate
    if (m.cid && outbox.some(e => e.id === m.cid)) { adopt(m.cid, m); return flush(); }
    c.msgs.set(m.seq, m);
    if (m.seq > c.last_seq) c.last_seq = m.seq;
    if (m.kind === 'operator' || m.kind === 'bot') {
      typingOn(false);
      if (live) { if (isOpen) setTimeout(markRead, 0); else bubbleUnread(); }
    }
  };
  // adopt turns our pending message into the stored one, keeping its node.
  const adopt = (id, m) => {
    const i = outbox.findIndex(e => e.id === id);
    if (i >= 0) outbox.splice(i, 1);
    sentNow.delete(id);
    const n = nodes.get('p:' + id), c = ensure(m.conv), k = m.conv + ':' + m.seq;
    nodes.delete('p:' + id);
    if (c.msgs.has(m.seq)) return;
    c.msgs.set(m.seq, m);
    if (m.seq > c.last_seq) c.last_seq = m.seq;
    if (n && !nodes.has(k)) {
      nodes.set(k, n);
      n.setAttribute('data-seq', m.seq);
      paint(n, null);
    }
  };
  const onAck = f => {
    const e = outbox.find(x => x.id === f.id);
    if (!e) return;
    if (e.type === 'message' && f.message) { adopt(e.id, f.message); return flush(); }
    outbox.splice(outbox.indexOf(e), 1);
    sentNow.delete(e.id);
    if (e.type === 'rate') rateDone(e.conv);
    if (e.name) me.name = e.name;
    if (e.email) me.email = e.email;
    if (e.id === detId && ui) {
      ui.detMsg.textContent = e.type === 'transcript' ? t.mailed : t.saved;
      setTimeout(() => { if (ui.details.contains(root.activeElement)) ui.input.focus(); toggleDetails(false); }, 1200);
    }
    flush();
  };
  const onHistory = f => {
    const c = ensure(f.conv), r = hist[f.id] || {};
    delete hist[f.id];
    if (f.conversation) upsert(f.conversation);
    for (const m of f.messages || []) if (m.kind !== 'note' && !c.msgs.has(m.seq)) c.msgs.set(m.seq, m);
    c.loaded = true;
    c.more = !!f.more;
    const before = r.before || (c.last_seq || 0) + 1;
    c.floor = Math.min(minSeq(c), before - 200);
    keepScroll = true;
  };
  const onError = f => {
    const r = hist[f.id], e = outbox.find(x => x.id === f.id);
    if (r) { // that conversation cannot be read: stop offering it
      delete hist[f.id];
      const c = convs.get(r.conv);
      if (c) { c.loaded = true; c.more = false; }
    }
    if (!e) return;
    if (f.code === 'rate_limited' || f.code === 'unavailable') { // transient: same id again shortly
      e.slow = f.code === 'unavailable' ? 'reconn' : 'slow'; // the notice: the server's store is failing over, or too fast
      sentNow.delete(e.id);
      setTimeout(flush, 1500 + Math.random() * 2000);
      return;
    }
    if (e.type === 'message') {
      e.fail = f.code || 'internal';
      for (const x of outbox) if (x.wait === e.id) delete x.wait;
      return;
    }
    outbox.splice(outbox.indexOf(e), 1);
    if (e.type === 'rate' && f.code === 'conflict') return rateDone(e.conv); // rated already
    if (e.type === 'invite') return; // a dismiss the server could not take: nothing to show
    if (ui) {
      if (e.id === detId) ui.detMsg.textContent = t.bad;
      else notice(t.bad);
    }
  };

  // ---- sending
  const enqueue = e => { outbox.push(e); save(); flush(); renderNow(); };
  const stars = n => { for (const b of ui.rate.querySelectorAll('.star')) { b.classList.toggle('on', +b.value <= n); b.setAttribute('aria-pressed', String(+b.value === n)); } };
  const rateDone = (conv, skip) => {
    rated.add(conv); st(1, KEY + 'rated', [...rated].slice(-50));
    if (rateConv === conv) { rateConv = ''; thanked = !skip; }
    render(); save();
  };
  // ---- files: uploaded first (POST attachments, with the socket's cookie), then sent by id with a message
  let ups = [], maxFile = 0;
  const upload = it => {
    const x = it.xhr = new XMLHttpRequest();
    it.err = ''; it.prog = 0;
    x.open('POST', BASE + 'attachments?name=' + encodeURIComponent(it.file.name || 'file'));
    x.upload.onprogress = ev => { if (ev.lengthComputable && it.pg) it.pg.value = ev.loaded / ev.total; };
    x.onload = () => {
      it.xhr = null;
      try { if (x.status !== 201) throw 0; it.a = JSON.parse(x.responseText); } catch (e) { it.err = (x.status >= 400 && x.status < 500 && x.responseText.trim().slice(0, 120)) || t.upfail; }
      drawUps();
    };
    x.onerror = () => { it.xhr = null; it.err = t.upfail; drawUps(); };
    x.send(it.file);
    drawUps();
  };
  const addFiles = files => {
    if (!maxFile) return;
    wake();
    for (const file of files) {
      if (ups.length >= 10) break;
      const it = { file };
      ups.push(it);
      if (file.size > maxFile) it.err = t.big; else upload(it);
    }
    drawUps();
  };
  const unUp = it => {
    if (it.xhr) it.xhr.abort();
    else if (it.a) { const x = new XMLHttpRequest(); x.open('DELETE', BASE + 'attachments/' + encodeURIComponent(it.a.id)); x.send(); }
    if (it.th) URL.revokeObjectURL(it.th);
    ups = ups.filter(u => u !== it);
    drawUps();
    if (ui) ui.input.focus();
  };
  const drawUps = () => {
    if (!ui) return;
    ui.tray.hidden = !ups.length;
    ui.tray.replaceChildren(...ups.map(it => {
      const name = it.file.name || 'file';
      it.pg = !it.a && !it.err ? h('progress', { max: 1, value: it.prog || 0, 'aria-label': t.upl + ' ' + name }) : null;
      return h('div', { sc: 'upload', class: 'up', 'data-state': it.err ? 'failed' : it.a ? 'done' : 'uploading' },
        /^image\//.test(it.file.type) ? h('img', { class: 'th', alt: '', src: it.th || (it.th = URL.createObjectURL(it.file)) }) : null,
        h('span', { class: 'fn', text: name }), it.pg, it.err ? h('span', { class: 'err', role: 'alert', text: it.err }) : null,
        it.err && it.file.size <= maxFile ? h('button', { type: 'button', sc: 'upload-retry', class: 'link', text: t.retry, onclick: () => upload(it) }) : null,
        h('button', { type: 'button', sc: 'upload-cancel', class: 'ib', 'aria-label': t.cancel + ' ' + name, title: t.cancel, onclick: () => unUp(it) }, svg(I_X, 'x')));
    }));
  };
  const fileList = as => h('div', { class: 'files' }, ...as.map(a => {
    const url = safeURL(a.url);
    if (!url) return null;
    return /^image\//.test(a.type)
      ? h('a', { sc: 'attachment', href: url, target: '_blank', rel: 'noopener', 'aria-label': fmt(t.full, { n: a.name }) }, h('img', { class: 'th', src: url, alt: a.name, loading: 'lazy' }))
      : h('a', { sc: 'attachment', class: 'file', href: url + '?download=1', download: a.name, text: a.name + ' (' + Math.max(1, Math.round(a.size / 1024)) + ' KB)' });
  }));

  const sendText = text => {
    text = String(text == null ? '' : text).trim();
    const att = ups.filter(u => u.a).map(u => u.a);
    if (!text && !att.length) return false;
    wake();
    if (bytes(text) > 4000) { notice(t.long); return false; }
    const e = { type: 'message', id: uuid(), text, ts: new Date().toISOString() };
    if (att.length) { e.att = att; ups = ups.filter(u => !u.a); drawUps(); }
    if (prechat && prechat.done && !prechat.sent) {
      prechat.sent = 1;
      if (prechat.a.department) e.dept = prechat.a.department;
      outbox.push(e);
      // The answers reach operators as a note on the open conversation: send them once the first message opened it.
      enqueue(prof(prechat.a.name, prechat.a.email, prechat.a, e.id));
    } else enqueue(e);
    stopTyping();
    keepScroll = false; toBottom = true;
    return true;
  };

  // typing: true with the draft (throttled to 1/s), false after 4 s idle, on send and on blur
  let myTyping = false, tyLast = 0, tyIdle = 0, tyDraft = 0, tyIn = 0;
  const sendTyping = on => {
    const c = current();
    myTyping = on; tyLast = Date.now();
    if (c && ready) send({ type: 'typing', conv: c.id, typing: on, draft: on ? ui.input.value.slice(0, 1000) : undefined });
  };
  const stopTyping = () => { clearTimeout(tyIdle); clearTimeout(tyDraft); if (myTyping) sendTyping(false); };
  const onInput = () => {
    autosize();
    if (!ready || !current()) return;
    if (!ui.input.value.trim()) return stopTyping();
    clearTimeout(tyIdle); tyIdle = setTimeout(stopTyping, 4000);
    clearTimeout(tyDraft);
    const wait = 1000 - (Date.now() - tyLast);
    if (!myTyping || wait <= 0) sendTyping(true); else tyDraft = setTimeout(() => myTyping && sendTyping(true), wait);
  };
  const autosize = () => { const i = ui.input; i.style.height = 'auto'; i.style.height = Math.min(i.scrollHeight + 2, 120) + 'px'; };

  // read receipts: the highest seq seen, while the panel is open and the page visible
  const markRead = () => {
    if (!ready || !isOpen || document.visibilityState !== 'visible') return;
    for (const c of convs.values()) {
      const s = maxSeq(c);
      if (s > (c.visitor_read || 0) && s > (readSent[c.id] || 0) && send({ type: 'read', conv: c.id, seq: s })) readSent[c.id] = s;
    }
    render();
  };
  const unread = () => {
    let n = 0, last = null;
    for (const c of convs.values()) {
      const r = Math.max(c.visitor_read || 0, readSent[c.id] || 0);
      for (const m of c.msgs.values()) if ((m.kind === 'operator' || m.kind === 'bot') && m.seq > r) { n++; if (!last || m.seq > last[1].seq) last = [c, m]; }
    }
    return [n, last];
  };

  // history: the oldest shown conversation's earlier messages, else the next older conversation
  let keepScroll = false, toBottom = false;
  const earlierTarget = () => {
    const shown = [...convs.values()].filter(c => c.msgs.size).sort(byCreated), oldest = shown[0];
    if (oldest && oldest.more) return [oldest, Math.min(oldest.floor || Infinity, minSeq(oldest))];
    const older = [...convs.values()].filter(c => !c.msgs.size && !c.loaded && Date.parse(c.created) && (!oldest || created(c) < created(oldest))).sort(byCreated).pop();
    return older ? [older, 0] : null;
  };
  const loadEarlier = () => {
    const x = earlierTarget();
    if (!x || !ready || Object.keys(hist).length) return;
    const id = uuid();
    if (send({ type: 'history', id, conv: x[0].id, before: x[1] || undefined, limit: 200 })) hist[id] = { conv: x[0].id, before: x[1] };
  };

  // ---- rendering
  const paint = (n, e) => { // status of a visitor message: sending, sent or failed, with its notice
    n.setAttribute('data-status', !e ? 'sent' : e.fail ? 'failed' : 'sending');
    n._st.textContent = e && !e.fail ? t.sending : '';
    const note = e && (e.fail || e.slow);
    if (!note) { if (n._err) n._err.remove(); n._err = null; return; }
    if (n._err && n._err._k === note) return;
    if (n._err) n._err.remove();
    n._err = h('div', { class: 'err', role: 'alert' }, e.fail ? t.failed + ' ' : t[e.slow]);
    n._err._k = note;
    if (e.fail) n._err.append(h('button', { type: 'button', text: t.retry, onclick: () => { delete e.fail; delete e.slow; save(); render(); flush(); } }));
    n.lastChild.append(n._err);
  };
  const msgNode = (m, pending) => {
    // A bot's message looks like an operator's, its author tagged as a bot.
    const kind = m.kind === 'operator' || m.kind === 'system' || m.kind === 'bot' ? m.kind : 'visitor', a = m.author || {};
    const n = h('div', { sc: 'message', class: 'm ' + (kind === 'bot' ? 'operator bot' : kind), 'data-kind': kind, 'data-seq': m.seq || null, 'data-status': pending ? 'sending' : 'sent' });
    const b = h('div', { class: 'b' });
    if (kind === 'operator' || kind === 'bot') {
      // No operator named (a trigger speaking for the team): the team's name and first photo, never a "?".
      const nm = a.name || team, src = safeURL(a.avatar) || (!a.name && safeURL(((cfg && cfg.team_photos) || [])[0]));
      n.append(src ? h('img', { sc: 'avatar', class: 'av', src, alt: '', referrerpolicy: 'no-referrer', onerror: ev => { ev.target.hidden = true; } })
        : h('span', { sc: 'avatar', class: 'av ini', 'aria-hidden': 'true', text: nm.slice(0, 1).toUpperCase() }));
      b.append(h('div', { sc: 'author', class: 'au', text: nm }, a.bot ? h('span', { sc: 'bot', class: 'tag', text: t.bot }) : ''));
    } else if (kind === 'visitor') b.append(h('span', { class: 'vh', text: t.you + ': ' }));
    const tx = h('div', { sc: 'text', class: 'tx' }), ev = m.event && t.ev[m.event.code];
    fill(tx, ev ? fmt(ev, { n: m.event.name || '', m: m.event.to || '' }) : String(m.text || ''));
    if (m.text || !m.attachments) b.append(tx);
    if (m.attachments) b.append(fileList(m.attachments));
    n._st = h('span', { class: 'st' });
    if (kind !== 'system') b.append(h('div', { class: 'meta' }, h('span', { text: when(m.ts, { hour: '2-digit', minute: '2-digit' }) }), n._st));
    n.append(b);
    return n;
  };
  const node = (k, make) => { let n = nodes.get(k); if (!n) nodes.set(k, n = make()); return n; };

  let renderT = 0, seenNode = null;
  const render = () => { if (!renderT) renderT = setTimeout(renderNow, 16); };
  const renderNow = () => {
    clearTimeout(renderT); renderT = 0;
    if (!ui) return;
    renderList();
    renderView();
  };
  const renderList = () => {
    const body = ui.body, list = ui.list, want = [];
    const nearBottom = body.scrollHeight - body.scrollTop - body.clientHeight < 80, fromBottom = body.scrollHeight - body.scrollTop;
    let lastVis = null;
    const shown = [...convs.values()].filter(c => c.msgs.size).sort(byCreated);
    for (const c of shown) {
      want.push(node('d:' + c.id, () => h('div', { class: 'sep', text: when(created(c), { dateStyle: 'medium', timeStyle: 'short' }) })));
      for (const m of [...c.msgs.values()].sort((x, y) => x.seq - y.seq)) {
        const n = node(c.id + ':' + m.seq, () => msgNode(m));
        want.push(n);
        if (m.kind === 'visitor') lastVis = [n, m.seq, c];
      }
    }
    // Quick replies: buttons under the bot's message while it is the latest; a click sends the text.
    const lc = shown[shown.length - 1], lm = lc && lc.status !== 'closed' && [...lc.msgs.values()].reduce((x, y) => (y.kind !== 'note' && (!x || y.seq > x.seq) ? y : x), null);
    if (lm && lm.kind === 'bot' && (lm.quick_replies || []).length && !outbox.some(e => e.type === 'message')) {
      want.push(node('q:' + lc.id + ':' + lm.seq, () => h('div', { sc: 'quick-replies', class: 'qr', role: 'group', 'aria-label': t.replies },
        ...lm.quick_replies.map(q => h('button', { type: 'button', text: q, onclick: () => { if (sendText(q)) ui.input.focus(); } })))));
    }
    if (invite) want.push(node('i:' + invite.id, () => msgNode({ kind: 'operator', author: invite.operator, text: invite.text, ts: invite.ts || (invite.ts = new Date().toISOString()) })));
    for (const e of outbox) {
      if (e.type !== 'message') continue;
      const n = node('p:' + e.id, () => msgNode({ kind: 'visitor', text: e.text, ts: e.ts, attachments: e.att }, 1));
      paint(n, e);
      want.push(n);
    }
    let i = 0;
    for (const n of want) { const at = list.children[i++]; if (at !== n) list.insertBefore(n, at || null); }
    while (list.children.length > i) list.lastChild.remove();
    // "Seen" under the visitor's last message once the operator read it
    const seen = lastVis && lastVis[2] === shown[shown.length - 1] && (lastVis[2].operator_read || 0) >= lastVis[1] ? lastVis[0] : null;
    if (seenNode !== seen) { if (seenNode && seenNode._st) seenNode._st.textContent = ''; seenNode = seen; }
    if (seen) seen._st.textContent = t.seen;
    if (keepScroll) body.scrollTop = body.scrollHeight - fromBottom;
    else if (nearBottom || toBottom) body.scrollTop = body.scrollHeight;
    keepScroll = toBottom = false;
  };
  let facesKey = '';
  const renderView = () => {
    const cur = current(), asg = cur && cur.status === 'assigned' ? cur : null, op = asg && asg.operator;
    ui.opName.textContent = (op && op.name) || '';
    ui.opName.hidden = !ui.opName.textContent;
    ui.sub.textContent = asg || avail == null ? '' : avail ? t.online : t.away;
    ui.sub.hidden = !ui.sub.textContent;
    const photos = op ? [safeURL(op.avatar) || '#' + (op.name || team)] : (cfg.team_photos || []).map(safeURL).filter(Boolean).slice(0, 3);
    if (photos.join() !== facesKey) {
      facesKey = photos.join();
      ui.faces.replaceChildren(...photos.map(s => s[0] === '#' ? h('span', { class: 'face ini', 'aria-hidden': 'true', text: s.slice(1, 2).toUpperCase() })
        : h('img', { class: 'face', src: s, alt: '', referrerpolicy: 'no-referrer', onerror: ev => { ev.target.hidden = true; } })));
    }
    const q = cur && cur.status === 'queued' ? cur.queue : null;
    // Nobody online: the email path (offline form) alone, never a place in line beside it.
    ui.queue.hidden = !cur || cur.status !== 'queued' || avail === false;
    const qt = q && q.position ? fmt(t.queue, { p: q.position }) + (q.wait_seconds > 0 && avail ? ' · ' + fmt(t.wait, { m: Math.max(1, Math.ceil(q.wait_seconds / 60)) }) : '') : t.waiting;
    if (ui.queue.textContent !== qt) ui.queue.textContent = qt;
    if (!asg) typingOn(false);
    const pending = outbox.some(e => e.type === 'message');
    const offline = avail === false && !asg;
    const showPre = !offline && !!ui.pre && !(prechat && prechat.done) && !convs.size && !pending;
    ui.off.hidden = !offline || offDone;
    ui.offDone.hidden = !offline || !offDone;
    if (ui.pre) ui.pre.hidden = !showPre;
    ui.comp.hidden = (offline && !offDone) || showPre;
    ui.greet.hidden = !!cur || pending || !!invite;
    const rc = !cur && !pending && !outbox.some(e => e.type === 'rate') && convs.get(rateConv);
    if (!rc && !ui.rate.hidden) { ui.rate.reset(); stars(0); }
    ui.rate.hidden = !rc;
    if (rc) ui.rateQ.textContent = (rc.operator && rc.operator.name ? rc.operator.name + ' · ' : '') + t.rate;
    ui.rateDone.hidden = !thanked || !!cur;
    const x = earlierTarget();
    ui.earlier.hidden = !x || !ready;
    if (x) ui.earlier.textContent = x[1] ? t.earlierMsgs : t.earlier;
    const [n] = unread();
    ui.badge.textContent = n > 9 ? '9+' : String(n);
    ui.badge.hidden = isOpen || !n;
    ui.launcher.setAttribute('aria-label', isOpen ? t.close : n ? fmt(t.unread, { n }) : t.open);
    // On a phone the open panel covers the page: a modal dialog, the page behind it inert.
    const modal = isOpen && phone.matches;
    if (modal) ui.panel.setAttribute('aria-modal', 'true'); else ui.panel.removeAttribute('aria-modal');
    if (modal) for (const e of document.body.children) { if (e !== host && !e.inert) { e.inert = true; inerted.add(e); } }
    else { for (const e of inerted) e.inert = false; inerted.clear(); }
    // focus inside a part that just hid: move it to what is shown now
    const a = root.activeElement;
    if (isOpen && a && a !== ui.panel && ui.panel.contains(a) && a.closest('[hidden]')) focusFirst();
  };

  // operator typing indicator (cleared after 8 s without news, or by their message)
  let tyT = 0;
  const typingOn = on => {
    clearTimeout(tyT);
    if (!ui) return;
    const c = current(), n = (c && c.operator && c.operator.name) || t.someone;
    ui.typing.hidden = !on;
    if (on) { ui.typing.textContent = fmt(t.typing, { n }); tyT = setTimeout(() => typingOn(false), 8000); }
  };

  const notice = text => {
    if (!ui) return;
    ui.note.textContent = text; ui.note.hidden = false;
    clearTimeout(ui.note._t); ui.note._t = setTimeout(() => { ui.note.hidden = true; }, 6000);
  };

  // ---- bubble
  const bubble = (text, key) => {
    if (!ui) { pendingBubble = [text, key]; return; }
    if (dismissed.has(key) || isOpen) return;
    ui.bText.textContent = clip(text, 200);
    ui.bubble._k = key;
    ui.bubble.hidden = false;
  };
  const bubbleUnread = () => {
    const [, last] = unread();
    if (!last || isOpen) return;
    const [c, m] = last;
    bubble(((m.author && m.author.name) ? m.author.name + ': ' : '') + m.text, 'm:' + c.id + ':' + m.seq);
  };
  // The server must hear of it, or the visitor's next chat would open with
  // the invitation; queued, so that it goes before any later message.
  const dismissInvite = () => { const id = invite.id; invite = null; enqueue({ type: 'invite', id: uuid(), action: 'dismiss', invite: { id } }); };
  const dismissBubble = () => {
    const k = ui.bubble._k;
    ui.bubble.hidden = true;
    if (k) { dismissed.add(k); st(1, KEY + 'dismissed', [...dismissed].slice(-50)); }
    if (invite && k === 'i:' + invite.id) { dismissInvite(); render(); }
    ui.launcher.focus();
  };

  // ---- open, close, forms
  const focusFirst = () => {
    const f = [ui.details, ui.pre, ui.off].find(x => x && !x.hidden);
    const el = f ? f.querySelector('input,select,textarea') : !ui.comp.hidden ? ui.input : !ui.offDone.hidden ? ui.offDone : ui.closeBtn;
    if (el) el.focus();
  };
  const phone = matchMedia('(max-width:480px)'), inerted = new Set();
  const open = () => {
    wake();
    if (!ui) { wantOpen = true; return; }
    if (isOpen) return;
    isOpen = true;
    ui.panel.hidden = false;
    ui.wrap.classList.add('open');
    ui.launcher.setAttribute('aria-expanded', 'true');
    ui.bubble.hidden = true;
    toBottom = true;
    renderNow();
    focusFirst();
    markRead();
  };
  const close = () => {
    if (!ui) { wantOpen = false; return; }
    if (!isOpen) return;
    const inside = ui.panel.contains(root.activeElement);
    isOpen = false;
    if (invite && !outbox.some(e => e.type === 'message')) dismissInvite(); // closing an unanswered invitation dismisses it
    stopTyping();
    ui.panel.hidden = true;
    ui.wrap.classList.remove('open');
    ui.launcher.setAttribute('aria-expanded', 'false');
    renderNow();
    if (inside) ui.launcher.focus();
  };
  const toggleDetails = show => {
    if (typeof show !== 'boolean') show = ui.details.hidden;
    ui.details.hidden = !show;
    ui.detBtn.setAttribute('aria-expanded', String(show));
    if (show) {
      const el = ui.details.elements;
      el.namedItem('name').value = me.name || '';
      el.namedItem('email').value = me.email || '';
      ui.detMsg.textContent = '';
      el.namedItem('name').focus();
    }
  };
  const val = (form, name) => String(new FormData(form).get(name) || '').trim();
  const field = (f, p, value) => {
    const id = 'sc-' + p + '-' + f.name, a = { id, name: f.name, required: !!f.required };
    let input;
    if (f.type === 'textarea') input = h('textarea', Object.assign(a, { rows: 3, maxlength: 4000 }));
    else if (f.type === 'select') input = h('select', a, h('option', { value: '', text: t.choose }), ...(f.options || []).map(o => h('option', { value: o, text: (tr.options || {})[o] || o })));
    else input = h('input', Object.assign(a, { type: f.type === 'email' ? 'email' : 'text', maxlength: f.type === 'email' ? 254 : f.name === 'name' ? 100 : 1000, autocomplete: f.name === 'email' ? 'email' : f.name === 'name' ? 'name' : 'off' }));
    if (value) input.value = value;
    return h('div', { class: 'fld' }, h('label', { for: id, text: ((tr.labels || {})[f.name] || f.label) + (f.required ? ' *' : '') }), input);
  };

  const build = () => {
    // Language: the shop's fixed locale; "page": the page's lang; default: the visitor's browser languages, then the page's.
    const c = cfg || {}, has = l => (l = String(l || '').toLowerCase().slice(0, 2)) && T[l] ? l : '', page = has(document.documentElement.lang);
    lang = c.locale === 'page' ? page || 'en' : has(c.locale) || (navigator.languages || [navigator.language]).map(has).find(Boolean) || page || 'en';
    t = Object.assign({}, T.en, T[lang]);
    tr = (c.translations || {})[lang] || {};
    team = tr.team_name || c.team_name || t.title;
    const title = team;
    const color = /^#([0-9a-f]{3}){1,2}$/i.test(c.brand_color || '') ? c.brand_color : '#2563eb';
    let hex = color.slice(1);
    if (hex.length === 3) hex = hex.replace(/./g, '$&$&');
    // WCAG relative luminance; text on the brand colour is white, else dark grey, else black: whichever reads at 4.5:1 first (one always does).
    const lum = [0, 2, 4].map(i => parseInt(hex.slice(i, i + 2), 16) / 255).map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4).reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
    const on = 1.05 / (lum + 0.05) >= 4.5 ? '#fff' : (lum + 0.05) / 0.0593 >= 4.5 ? '#111827' : '#000';
    nodes.clear(); seenNode = null; facesKey = '';
    const u = {};
    const x = () => svg(I_X, 'x');
    u.launcher = h('button', { type: 'button', sc: 'launcher', class: 'fx launcher', 'aria-label': t.open, 'aria-expanded': 'false', 'aria-controls': 'sc-panel', onclick: () => (isOpen ? close() : open()) },
      svg(I_CHAT, 'chat'), x(), u.badge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true }));
    u.bubble = h('div', { sc: 'bubble', class: 'fx bubble', hidden: true, role: 'status' },
      u.bText = h('button', { type: 'button', sc: 'bubble-text', class: 'btext', onclick: open }),
      h('button', { type: 'button', sc: 'bubble-close', class: 'ib', 'aria-label': t.dismiss, title: t.dismiss, onclick: dismissBubble }, x()));
    const head = h('div', { class: 'head' },
      u.faces = h('div', { class: 'faces' }),
      h('div', { class: 'who' }, h('div', { class: 'title', text: title }),
        u.opName = h('div', { sc: 'operator-name', class: 'sub', hidden: true }), u.sub = h('div', { class: 'sub', hidden: true })),
      u.detBtn = h('button', { type: 'button', sc: 'details-toggle', class: 'ib', 'aria-label': t.details, title: t.details, 'aria-expanded': 'false', 'aria-controls': 'sc-details', onclick: () => toggleDetails() }, svg(I_USER)),
      u.closeBtn = h('button', { type: 'button', sc: 'close', class: 'ib', 'aria-label': t.close, title: t.close, onclick: close }, x()));
    u.details = h('form', { sc: 'details', id: 'sc-details', class: 'form', hidden: true, 'aria-label': t.details, onsubmit: ev => {
      ev.preventDefault();
      const name = val(u.details, 'name'), email = val(u.details, 'email');
      if (!name && !email) return toggleDetails(false);
      const e = prof(name, email);
      detId = e.id;
      u.detMsg.textContent = '';
      enqueue(e);
    } },
    field({ name: 'name', label: t.name }, 'd'), field({ name: 'email', label: t.email, type: 'email' }, 'd'),
    h('div', { class: 'row' }, u.detMsg = h('span', { class: 'fmsg', role: 'status' }), h('button', { type: 'submit', sc: 'details-save', class: 'btn', text: t.save })),
    h('label', { class: 'chk' }, u.mailOk = h('input', { type: 'checkbox', sc: 'mail-optin', checked: true, onchange: () => {
      const conv = [...convs.values()].sort(byCreated).pop();
      if (conv) enqueue({ type: 'mail', id: uuid(), conv: conv.id, status: u.mailOk.checked ? 'on' : 'off' });
    } }), h('span', { text: t.mailOk })),
    h('button', { type: 'button', sc: 'transcript', class: 'link', text: t.mailMe, onclick: () => {
      const conv = [...convs.values()].sort(byCreated).pop(), email = val(u.details, 'email');
      if (!conv) return;
      const e = { type: 'transcript', id: uuid(), conv: conv.id, email: cut(email, 254) };
      detId = e.id;
      u.detMsg.textContent = '';
      enqueue(e);
    } }));
    u.body = h('div', { class: 'body' },
      u.earlier = h('button', { type: 'button', sc: 'earlier', class: 'link', hidden: true, text: t.earlier, onclick: loadEarlier }),
      u.list = h('div', { sc: 'messages', class: 'list', role: 'log', 'aria-live': 'polite', 'aria-label': t.chat || title }),
      u.greet = h('div', { sc: 'greeting', class: 'greet', text: tr.greeting || c.greeting || t.hi }),
      u.typing = h('div', { sc: 'typing', class: 'typing', hidden: true, 'aria-live': 'polite' }),
      u.queue = h('div', { sc: 'queue', class: 'queue', hidden: true, role: 'status' }),
      u.rate = h('form', { sc: 'rate-form', class: 'form rate', hidden: true, onsubmit: ev => {
        ev.preventDefault();
        const n = +(u.rate.querySelector('[aria-pressed=true]') || {}).value;
        if (!n || !rateConv) return;
        enqueue({ type: 'rate', id: uuid(), conv: rateConv, rating: n, text: cut(val(u.rate, 'comment'), 1000) });
      } }, u.rateQ = h('p', { id: 'sc-rate-q' }),
      h('div', { class: 'stars', role: 'group', 'aria-labelledby': 'sc-rate-q' }, ...[1, 2, 3, 4, 5].map(n => h('button', { type: 'button', sc: 'rate-' + n, class: 'star', value: n, 'aria-pressed': 'false', 'aria-label': fmt(t.star, { n }), title: fmt(t.star, { n }), text: '★', onclick: () => stars(n) }))),
      field({ name: 'comment', label: t.comment, type: 'textarea' }, 'r'),
      h('div', { class: 'row' }, h('button', { type: 'button', sc: 'rate-dismiss', class: 'link', text: t.dismiss, onclick: () => rateDone(rateConv, 1) }), h('button', { type: 'submit', sc: 'rate-submit', class: 'btn', text: t.send }))),
      u.rateDone = h('div', { sc: 'rate-done', class: 'done', hidden: true, role: 'status', text: t.thanks }));
    if (c.pre_chat && c.pre_chat.length) {
      u.pre = h('form', { sc: 'prechat-form', class: 'form', hidden: true, onsubmit: ev => {
        ev.preventDefault();
        const a = {};
        for (const f of c.pre_chat) { const v = cut(val(u.pre, f.name), 1000); if (v) a[f.name] = v; }
        prechat = { a, done: 1 };
        if (a.name || a.email) enqueue(prof(a.name, a.email));
        renderNow(); save();
        u.input.focus();
      } }, h('p', { text: t.pre }), ...c.pre_chat.map(f => field(f, 'p')), h('button', { type: 'submit', sc: 'prechat-submit', class: 'btn', text: t.start }));
    }
    u.off = h('form', { sc: 'offline-form', class: 'form', hidden: true, onsubmit: ev => {
      ev.preventDefault();
      const email = val(u.off, 'email'), text = val(u.off, 'message');
      if (!email || !text) return;
      outbox.push(prof(val(u.off, 'name'), email));
      if (!sendText(text)) { outbox.pop(); return; }
      offDone = true;
      u.off.reset();
      renderNow(); save();
      u.offDone.focus();
    } }, h('p', { text: tr.offline || c.offline || t.offline }),
    field({ name: 'name', label: t.name }, 'o', me.name), field({ name: 'email', label: t.email, type: 'email', required: true }, 'o', me.email),
    field({ name: 'message', label: t.msg, type: 'textarea', required: true }, 'o'),
    h('button', { type: 'submit', sc: 'offline-submit', class: 'btn', text: t.send }));
    u.offDone = h('div', { sc: 'offline-done', class: 'done', hidden: true, tabindex: '-1', role: 'status', text: t.offdone });
    u.note = h('div', { class: 'note', role: 'alert', hidden: true });
    maxFile = +c.attachments || 0;
    const pick = ev => { addFiles(ev.target.files); ev.target.value = ''; };
    u.file = h('input', { type: 'file', sc: 'file', multiple: true, accept: 'image/*,application/pdf,text/plain', hidden: true, tabindex: '-1', onchange: pick });
    u.cam = h('input', { type: 'file', sc: 'camera', accept: 'image/*', capture: 'environment', hidden: true, tabindex: '-1', onchange: pick });
    u.tray = h('div', { sc: 'uploads', class: 'tray', hidden: true });
    u.input = h('textarea', { id: 'sc-input', sc: 'input', rows: 1, placeholder: t.ph, maxlength: 4000, oninput: onInput, onblur: stopTyping, onpaste: ev => {
      const f = ev.clipboardData && ev.clipboardData.files;
      if (maxFile && f && f.length) { ev.preventDefault(); addFiles(f); }
    }, onkeydown: ev => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendInputNow(); }
    } });
    const sendInputNow = () => { if (sendText(u.input.value)) { u.input.value = ''; autosize(); } };
    u.comp = h('form', { class: 'comp', onsubmit: ev => { ev.preventDefault(); sendInputNow(); u.input.focus(); } },
      h('label', { for: 'sc-input', class: 'vh', text: t.msg }),
      maxFile ? h('button', { type: 'button', sc: 'attach', class: 'ib', 'aria-label': t.attach, title: t.attach, onclick: () => u.file.click() }, svg(I_CLIP)) : null,
      maxFile && matchMedia('(pointer: coarse)').matches ? h('button', { type: 'button', sc: 'take-photo', class: 'ib', 'aria-label': t.photo, title: t.photo, onclick: () => u.cam.click() }, svg(I_CAM)) : null,
      u.file, u.cam, u.input,
      h('button', { type: 'submit', sc: 'send', class: 'send', 'aria-label': t.send, title: t.send }, svg(I_SEND)));
    u.status = h('div', { sc: 'status', class: 'status', role: 'status' });
    u.panel = h('div', { sc: 'panel', id: 'sc-panel', class: 'fx panel', role: 'dialog', 'aria-label': title, hidden: !isOpen, onkeydown: ev => {
      if (ev.key === 'Escape') { ev.stopPropagation(); close(); }
      if (ev.key === 'Tab' && u.panel.hasAttribute('aria-modal')) { // keep focus in the modal panel
        const f = [...u.panel.querySelectorAll('button,input,textarea,select,a[href],[tabindex="0"]')].filter(e => !e.disabled && e.getClientRects().length);
        const i = f.indexOf(root.activeElement);
        if (f.length && (ev.shiftKey ? i <= 0 : i === f.length - 1)) { ev.preventDefault(); f[ev.shiftKey ? f.length - 1 : 0].focus(); }
      }
    }, ondragover: ev => { if (maxFile && [...ev.dataTransfer.types].includes('Files')) ev.preventDefault(); },
    ondrop: ev => { if (maxFile && ev.dataTransfer.files.length) { ev.preventDefault(); addFiles(ev.dataTransfer.files); } } }, head, u.details, u.status, u.body, u.pre, u.off, u.offDone, u.note, u.tray, u.comp);
    u.wrap = h('div', { class: 'sc' + (isOpen ? ' open' : ''), 'data-pos': c.position === 'left' ? 'left' : 'right', dir: 'ltr' }, u.bubble, u.panel, u.launcher);
    u.wrap.style.setProperty('--sc-brand', color);
    u.wrap.style.setProperty('--sc-on', on);
    root.replaceChildren(h('style', { text: CSS }), u.wrap);
    ui = u;
    setConn(host.getAttribute('data-state'));
    renderNow();
    drawUps();
    if (wantOpen) { wantOpen = false; open(); }
    if (pendingBubble) { bubble(...pendingBubble); pendingBubble = null; }
  };

  // ---- start
  const start = () => {
    document.body.append(host);
    // Pages that swap <body> (Turbo, some SPAs) would drop the widget: put it back, state intact.
    const keep = new MutationObserver(() => {
      if (host.isConnected || !document.body) return;
      document.body.append(host);
      keep.disconnect(); keep.observe(document.documentElement, { childList: true }); keep.observe(document.body, { childList: true });
    });
    keep.observe(document.documentElement, { childList: true });
    keep.observe(document.body, { childList: true });
    connect();
    addEventListener('online', reconnectNow);
    phone.addEventListener('change', () => ui && renderNow());
    addEventListener('pageshow', sendPage);
    addEventListener('popstate', pageSoon); // after the app set its title
    watchNav();
    addEventListener('pagehide', saveNow);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState !== 'visible') return saveNow();
      renderNow(); markRead(); reconnectNow();
    });
  };
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);

  window.shopchat = Object.freeze({
    open, close,
    showBubble: text => bubble(String(text == null ? '' : text), 't:' + text),
    send: text => sendText(text),
  });
})();
