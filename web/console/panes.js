// shopchat operator console: panes (one conversation each, two in split view)
// and their composer.

import { HISTORY_PAGE, MAX_TEXT_BYTES } from './config.js';
import { byId, byteLength, fillAvatar, h, narrowMQ, show, splitMQ } from './helpers.js';
import { S, getConv, nearBottom } from './state.js';
import { persist } from './persistence.js';
import { toast } from './toasts.js';
import { sendFrame } from './connection.js';
import { scrollToBottom } from './conversations.js';
import { loadHistory } from './history.js';
import { renderDetails, renderDrawer, requestDetails } from './details.js';
import { accept, closeConv, reopenConv, sendTranscript } from './actions.js';
import { enqueue } from './outbox.js';
import { renderLists, scheduleRender } from './rendering.js';
import { setTab } from './tabs.js';
import { fillCanned } from './canned.js';
import { uploadFiles } from './attachments.js';
import { answersBox, renderAnswers } from './answers.js';

export class Pane {
  constructor(index) {
    this.index = index;
    this.conv = null;
    this.cannedMode = null; // null | 'slash' | 'all'
    this.cannedSel = 0;
    this.build();
  }

  build() {
    const P = (cls, attrs, ...k) => h('div', Object.assign({ class: cls }, attrs || {}), ...k);
    this.backBtn = h('button', { type: 'button', class: 'btn-icon back-btn', 'aria-label': 'Back to the list', text: '‹' });
    this.avatar = h('span', { class: 'avatar avatar-md', 'aria-hidden': 'true' });
    this.nameEl = h('div', { class: 'conv-name' });
    this.subEl = h('div', { class: 'conv-sub' });
    this.acceptBtn = h('button', { type: 'button', class: 'btn btn-primary btn-small', text: 'Accept', hidden: true });
    this.reopenBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'data-sc': 'reopen-conv', text: 'Reopen', hidden: true });
    this.closeBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'data-sc': 'close-conv', text: 'Close', hidden: true });
    this.transcriptBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-sc': 'send-transcript', text: 'Email transcript', title: 'Email the conversation to the visitor (needs their email)' });
    this.detailsBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-small details-btn', text: 'Details' });
    this.splitBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-small split-btn', title: 'Show two conversations side by side', text: 'Split view' });
    this.paneCloseBtn = h('button', { type: 'button', class: 'btn-icon pane-close', 'aria-label': 'Close this side', text: '✕' });
    this.header = h('header', { class: 'conv-head' },
      this.backBtn, this.avatar,
      P('conv-id', null, this.nameEl, this.subEl),
      P('conv-actions', null, this.acceptBtn, this.reopenBtn, this.closeBtn, this.transcriptBtn, this.detailsBtn,
        this.index === 0 ? this.splitBtn : this.paneCloseBtn));

    this.threads = P('threads');
    this.typingEl = h('div', { class: 'typing', 'data-sc': 'typing', hidden: true, role: 'status' },
      h('span', { class: 'dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), ' Visitor is typing…');
    this.draftEl = h('div', { class: 'draft', 'data-sc': 'draft', hidden: true, 'aria-live': 'polite', title: 'What the visitor is typing (not sent yet)' });
    this.peek = P('peek', null, this.typingEl, this.draftEl);

    this.cannedList = h('div', { class: 'canned-list', 'data-sc': 'canned-list', role: 'listbox', hidden: true });
    this.input = h('textarea', { class: 'input', 'data-sc': 'input', rows: '2', placeholder: 'Type a reply — “/” for canned responses', 'aria-label': 'Message' });
    this.noteBox = h('input', { type: 'checkbox', 'data-sc': 'note-toggle' });
    this.noteLabel = h('label', { class: 'note-switch', title: 'Internal notes are seen by operators only' }, this.noteBox, h('span', { text: 'Note' }));
    this.silentBox = h('input', { type: 'checkbox', 'data-sc': 'silent-toggle' });
    this.silentLabel = h('label', { class: 'note-switch', title: 'Never email this message to the visitor, even if they miss it' }, this.silentBox, h('span', { text: 'No email' }));
    this.cannedBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-small', text: 'Canned', title: 'Insert a canned response' });
    this.sendBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-sc': 'send', text: 'Send' });
    this.fileInput = h('input', { type: 'file', 'data-sc': 'file', multiple: true, accept: 'image/*,application/pdf,text/plain', hidden: true, tabindex: '-1' });
    this.attachBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-sc': 'attach', text: 'Attach', title: 'Send an image or a file' });
    this.uploads = h('div', { class: 'uploads', 'data-sc': 'uploads', 'aria-live': 'polite' });
    this.composerHint = h('div', { class: 'composer-hint' });
    this.answersEl = answersBox();
    this.composer = h('div', { class: 'composer' },
      this.answersEl,
      this.cannedList,
      this.uploads,
      this.input,
      P('composer-bar', null, this.cannedBtn, this.attachBtn, this.fileInput, this.composerHint, P('spacer'), this.silentLabel, this.noteLabel, this.sendBtn));

    this.empty = P('pane-empty', null,
      h('div', { class: 'pane-empty-inner' },
        h('div', { class: 'pane-empty-title', text: this.index === 0 ? 'No conversation open' : 'Second conversation' }),
        h('div', { class: 'pane-empty-text', text: this.index === 0
          ? 'Pick a conversation on the left, or accept a visitor from the queue.'
          : 'Pick another conversation on the left to show it here.' })));
    this.body = P('pane-body', { hidden: true }, this.header, this.threads, this.peek, this.composer);
    this.root = h('section', { class: 'pane', 'data-pane': String(this.index) }, this.empty, this.body);

    this.root.addEventListener('pointerdown', () => focusPane(this), true);
    this.root.addEventListener('focusin', () => focusPane(this));
    this.backBtn.addEventListener('click', () => {
      document.body.classList.remove('view-thread');
      scheduleRender();
    });
    this.acceptBtn.addEventListener('click', () => this.conv && accept(this.conv.id, this.acceptBtn));
    this.reopenBtn.addEventListener('click', () => this.conv && reopenConv(this.conv));
    this.closeBtn.addEventListener('click', () => this.conv && closeConv(this.conv));
    this.transcriptBtn.addEventListener('click', () => this.conv && sendTranscript(this.conv));
    this.detailsBtn.addEventListener('click', () => {
      focusPane(this);
      document.body.classList.toggle('details-open');
      renderDrawer();
    });
    this.splitBtn.addEventListener('click', () => setSplit(!S.split));
    this.paneCloseBtn.addEventListener('click', () => setSplit(false));
    this.sendBtn.addEventListener('click', () => this.send());
    this.attachBtn.addEventListener('click', () => this.fileInput.click());
    this.fileInput.addEventListener('change', () => { uploadFiles(this, this.fileInput.files); this.fileInput.value = ''; });
    this.input.addEventListener('paste', (ev) => {
      const f = ev.clipboardData && ev.clipboardData.files;
      if (f && f.length) { ev.preventDefault(); uploadFiles(this, f); }
    });
    this.body.addEventListener('dragover', (ev) => { if ([...ev.dataTransfer.types].includes('Files')) ev.preventDefault(); });
    this.body.addEventListener('drop', (ev) => { if (ev.dataTransfer.files.length) { ev.preventDefault(); uploadFiles(this, ev.dataTransfer.files); } });
    this.cannedBtn.addEventListener('click', () => {
      if (this.cannedMode === 'all') this.closeCanned();
      else this.openCanned('all');
      this.input.focus();
    });
    this.noteBox.addEventListener('change', () => {
      if (this.conv) this.conv.note = this.noteBox.checked;
      if (this.noteBox.checked) this.stopTyping();
      this.renderComposer();
    });
    this.input.addEventListener('input', () => this.onInput());
    this.input.addEventListener('keydown', (ev) => this.onKey(ev));
    // Enter sends (or picks a canned response); keep a synthesised
    // keypress from adding a line break afterwards.
    this.input.addEventListener('keypress', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.altKey) ev.preventDefault();
    });
    this.input.addEventListener('blur', () => {
      setTimeout(() => { if (document.activeElement !== this.input) this.closeCanned(); }, 150);
    });
  }

  showConv(c) {
    if (this.conv === c) return;
    if (this.conv) this.hideConv();
    this.conv = c;
    if (!c) {
      this.render();
      return;
    }
    this.threads.append(c.thread);
    c.thread.hidden = false;
    this.input.value = c.draft;
    this.noteBox.checked = c.note;
    this.closeCanned();
    this.render();
    if (c.scrollTop === null) scrollToBottom(c);
    else c.thread.scrollTop = c.scrollTop;
  }

  hideConv() {
    const c = this.conv;
    if (!c) return;
    this.stopTyping();
    c.draft = this.input.value;
    c.scrollTop = nearBottom(c.thread) ? null : c.thread.scrollTop;
    c.thread.hidden = true;
    byId('thread-park').append(c.thread);
    this.conv = null;
    persist();
  }

  // writable: messages can go to the visitor; otherwise only notes.
  writable() {
    return !!(this.conv && this.conv.assignedToMe);
  }

  render() {
    const c = this.conv;
    show(this.empty, !c);
    show(this.body, !!c);
    this.root.classList.toggle('focused', S.split && S.focused === this);
    if (!c) return;
    fillAvatar(this.avatar, c.name, '', c.visitorId || c.id);
    this.nameEl.textContent = c.name;
    this.subEl.textContent = statusLine(c);
    const st = c.status;
    show(this.acceptBtn, st === 'queued');
    this.acceptBtn.textContent = st === 'queued' && !(c.state && c.state.live) ? 'Answer' : 'Accept';
    show(this.reopenBtn, st === 'closed');
    show(this.closeBtn, c.assignedToMe);
    this.splitBtn.textContent = S.split ? 'Single view' : 'Split view';
    this.typingEl.hidden = !(c.vTyping && c.mine);
    this.draftEl.textContent = c.mine ? c.vDraft : '';
    this.draftEl.hidden = !(c.mine && c.vDraft);
    this.renderComposer();
    renderAnswers(this);
  }

  // insertText puts a suggested answer into the composer to edit.
  insertText(text) {
    this.insertCanned({ text });
    this.input.focus();
  }

  renderComposer() {
    const c = this.conv;
    if (!c) return;
    const writable = this.writable();
    if (!writable) {
      this.noteBox.checked = true;
      this.noteBox.disabled = true;
    } else if (this.noteBox.disabled) {
      this.noteBox.disabled = false;
      this.noteBox.checked = c.note;
    } else {
      c.note = this.noteBox.checked; // the box is the truth while enabled
    }
    const note = this.noteBox.checked;
    this.composer.classList.toggle('composer-note', note);
    let placeholder = 'Type a reply — “/” for canned responses';
    if (writable && note) placeholder = 'Write an internal note — only operators see it';
    else if (c.status === 'closed') placeholder = 'Closed — reopen it to reply, or add an internal note';
    else if (!writable) placeholder = 'Not assigned to you — you can add an internal note';
    this.input.placeholder = placeholder;
    this.sendBtn.textContent = note ? 'Add note' : 'Send';
    show(this.cannedBtn, S.canned.length > 0);
    const hint = S.ready ? '' : 'Offline — messages are kept and sent when the connection is back';
    this.composerHint.textContent = hint;
  }

  onInput() {
    const c = this.conv;
    if (!c) return;
    c.draft = this.input.value;
    persist();
    const m = /^\/(\S*)$/.exec(this.input.value);
    if (m && S.canned.length) this.openCanned('slash', m[1]);
    else if (this.cannedMode === 'slash') this.closeCanned();
    if (this.writable() && !this.noteBox.checked && this.input.value.trim() !== '' && !this.input.value.startsWith('/')) this.startTyping();
    else if (this.input.value.trim() === '') this.stopTyping();
  }

  startTyping() {
    const c = this.conv;
    if (!c || !S.ready) return;
    const now = Date.now();
    if (!c.opTyping || now - c.opTypingAt > 4000) {
      if (sendFrame({ type: 'typing', conv: c.id, typing: true })) {
        c.opTyping = true;
        c.opTypingAt = now;
      }
    }
    clearTimeout(c.opTypingTimer);
    c.opTypingTimer = setTimeout(() => this.stopTyping(c), 5000);
  }

  stopTyping(conv) {
    const c = conv || this.conv;
    if (!c) return;
    clearTimeout(c.opTypingTimer);
    if (c.opTyping) {
      c.opTyping = false;
      if (c.assignedToMe) sendFrame({ type: 'typing', conv: c.id, typing: false });
    }
  }

  onKey(ev) {
    if (this.cannedMode) {
      const items = this.cannedItems();
      if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        ev.preventDefault();
        if (items.length) {
          this.cannedSel = (this.cannedSel + (ev.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
          this.renderCanned();
        }
        return;
      }
      if ((ev.key === 'Enter' || ev.key === 'Tab') && !ev.shiftKey && items.length) {
        ev.preventDefault();
        this.insertCanned(items[Math.min(this.cannedSel, items.length - 1)]);
        return;
      }
      if (ev.key === 'Escape') {
        ev.preventDefault();
        this.closeCanned();
        return;
      }
    }
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.altKey && !ev.isComposing) {
      ev.preventDefault();
      this.send();
    }
  }

  send() {
    const c = this.conv;
    if (!c) return;
    const text = this.input.value;
    if (text.trim() === '') return;
    if (byteLength(text) > MAX_TEXT_BYTES) {
      toast(`That message is too long (at most ${MAX_TEXT_BYTES} bytes).`, 'error');
      return;
    }
    const note = this.noteBox.checked || !this.writable();
    this.stopTyping();
    enqueue(c, note ? 'note' : 'message', text, !note && this.silentBox.checked);
    this.input.value = '';
    c.draft = '';
    persist();
    this.closeCanned();
    this.input.focus();
    scheduleRender();
  }

  // ----- canned responses

  cannedItems() {
    if (this.cannedMode !== 'slash') return S.canned;
    const q = (this.cannedQuery || '').toLowerCase();
    const hits = S.canned.filter((k) => !q || [k.shortcut, k.title, k.text].some((x) => String(x || '').toLowerCase().includes(q)));
    hits.sort((a, b) => Number(!String(a.shortcut || '').toLowerCase().startsWith(q)) - Number(!String(b.shortcut || '').toLowerCase().startsWith(q)));
    return hits;
  }

  openCanned(mode, query) {
    if (this.cannedMode !== mode || this.cannedQuery !== query) this.cannedSel = 0;
    this.cannedMode = mode;
    this.cannedQuery = query || '';
    this.renderCanned();
  }

  closeCanned() {
    this.cannedMode = null;
    this.cannedList.hidden = true;
    this.cannedList.textContent = '';
  }

  renderCanned() {
    const items = this.cannedItems();
    this.cannedList.textContent = '';
    if (!items.length) {
      this.cannedList.append(h('div', { class: 'canned-empty', text: 'No canned response matches.' }));
    }
    items.forEach((k, i) => {
      const item = h('div', { class: `canned-item${i === this.cannedSel ? ' selected' : ''}`, 'data-sc': 'canned-item', role: 'option', 'aria-selected': i === this.cannedSel ? 'true' : 'false', 'data-shortcut': k.shortcut || '' },
        h('div', { class: 'canned-head' },
          h('span', { class: 'canned-shortcut', text: `/${k.shortcut || ''}` }),
          h('span', { class: 'canned-title', text: k.title || '' }),
          k.personal ? h('span', { class: 'chip', text: 'Personal' }) : null),
        h('div', { class: 'canned-text', text: k.text }));
      item.addEventListener('mousedown', (ev) => ev.preventDefault());
      item.addEventListener('click', () => this.insertCanned(k));
      this.cannedList.append(item);
    });
    this.cannedList.hidden = false;
    const sel = this.cannedList.children[this.cannedSel];
    if (sel && sel.scrollIntoView) sel.scrollIntoView({ block: 'nearest' });
  }

  insertCanned(k) {
    if (!k) return;
    const ta = this.input;
    const text = fillCanned(k.text, this.conv);
    let start = 0;
    if (this.cannedMode === 'slash' || /^\/\S*$/.test(ta.value)) {
      ta.value = text;
      ta.setSelectionRange(ta.value.length, ta.value.length);
    } else {
      start = ta.selectionStart ?? ta.value.length;
      const end = ta.selectionEnd ?? ta.value.length;
      ta.value = ta.value.slice(0, start) + text + ta.value.slice(end);
      const pos = start + text.length;
      ta.setSelectionRange(pos, pos);
    }
    // A variable with no value stays, selected, for the operator to type over.
    const left = /\{[\w.-]+\}/.exec(text);
    if (left) ta.setSelectionRange(start + left.index, start + left.index + left[0].length);
    this.closeCanned();
    ta.focus();
    if (this.conv) {
      this.conv.draft = ta.value;
      persist();
    }
  }
}

function statusLine(c) {
  const st = c.state || {};
  const dept = st.department ? ` · ${st.department}` : '';
  switch (st.status) {
    case 'assigned':
      if (c.assignedToMe) return `Assigned to you${dept}`;
      return `Assigned to ${(st.operator && (st.operator.name || st.operator.id)) || 'another operator'}${dept} · read-only`;
    case 'queued':
      return st.live ? `Waiting for an operator${dept}` : `Waiting for reply${dept} · the visitor is away: a reply goes by email`;
    case 'closed':
      return `Closed${dept}`;
    default:
      return c.historyLoading ? 'Loading…' : '';
  }
}

function focusPane(p) {
  if (S.focused === p) return;
  S.focused = p;
  for (const q of S.panes) q.root.classList.toggle('focused', S.split && q === p);
  if (p.conv) requestDetails(p.conv, false);
  renderDetails();
  renderLists();
}

export function setSplit(on) {
  on = !!on && splitMQ.matches;
  if (on === S.split) return;
  S.split = on;
  document.body.classList.toggle('split', on);
  if (on) {
    const p = new Pane(1);
    S.panes.push(p);
    byId('panes').append(p.root);
    S.focused = p;
    p.render();
  } else {
    const p = S.panes[1];
    if (p) {
      p.hideConv();
      p.root.remove();
      S.panes.splice(1, 1);
    }
    S.focused = S.panes[0];
  }
  for (const q of S.panes) q.render();
  renderDetails();
  renderLists();
}
splitMQ.addEventListener('change', () => { if (!splitMQ.matches && S.split) setSplit(false); });

// openConv shows a conversation in the focused pane (or where it is shown
// already). Conversations that are not mine open read-only from history.
export function openConv(id) {
  setTab('chats');
  const c = getConv(id);
  const here = c.pane();
  if (here) {
    focusPane(here);
  } else {
    S.focused.showConv(c);
  }
  document.body.classList.add('view-thread');
  if (!c.mine || !c.assignedToMe) {
    if (!c.historyLoading) loadHistory(c, false);
  } else if (c.minSeq > 1 && c.msgs.size < HISTORY_PAGE && !c.historyLoaded) {
    loadHistory(c, true);
  }
  requestDetails(c, false);
  renderDetails();
  scheduleRender();
  const pane = c.pane();
  if (pane && !narrowMQ.matches) pane.input.focus({ preventScroll: true });
}

export function isInView(c) {
  if (document.hidden) return false;
  const p = c.pane();
  if (!p) return false;
  if (narrowMQ.matches && !document.body.classList.contains('view-thread')) return false;
  return true;
}

export function markRead() {
  if (!S.ready) return;
  for (const p of S.panes) {
    const c = p.conv;
    if (!c || !c.assignedToMe || !isInView(c)) continue;
    if (c.maxSeq > c.readMark()) {
      if (sendFrame({ type: 'read', conv: c.id, seq: c.maxSeq })) c.readSent = c.maxSeq;
    }
  }
}
