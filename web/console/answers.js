// shopchat operator console: answers from past chats and the bot's part.
// While a visitor's question is open in a conversation of mine, the
// composer offers suggested answers (canned responses and operators' past
// answers, ranked by the server's search); one click inserts one to edit.
// Operators' messages can be marked as knowledge-base answers, which the
// FAQ bot may use. The Reports tab gets the bot's counts from here too.

import { h, show } from './helpers.js';
import { request } from './connection.js';
import { toast } from './toasts.js';

const fetched = new Map(); // "conv:seq" of the question -> answers (null while asked)
const marked = new Map(); // "conv:seq" of an operator message -> marked, as this console set it

// openQuestion is the seq of the visitor's latest message if nothing but
// notes and events came after it, else 0.
function openQuestion(c) {
  for (let s = c.maxSeq; s >= c.minSeq && s > 0; s--) {
    const m = c.msgs.get(s);
    if (!m || m.kind === 'note' || m.kind === 'system') continue;
    return m.kind === 'visitor' ? s : 0;
  }
  return 0;
}

// answersBox is a pane's suggestions box, above its composer.
export function answersBox() {
  const list = h('ul', { class: 'answers-list' });
  const box = h('section', { class: 'answers', 'data-sc': 'answers', 'aria-label': 'Suggested answers', hidden: true },
    h('h3', { class: 'answers-title', text: 'Suggested answers' }), list);
  box._list = list;
  return box;
}

// renderAnswers fills the pane's box for its conversation's open question,
// asking the server once per question.
export function renderAnswers(pane) {
  const c = pane.conv, box = pane.answersEl;
  const seq = c && c.mine && c.status !== 'closed' ? openQuestion(c) : 0;
  const key = seq ? `${c.id}:${seq}` : '';
  if (box._key === key && fetched.get(key) !== null) return;
  box._key = key;
  if (key && !fetched.has(key)) {
    fetched.set(key, null);
    const id = request({ type: 'answers', conv: c.id }, (f) => {
      fetched.set(key, (f && f.answers) || []);
      if (pane.conv === c) { box._key = ''; renderAnswers(pane); }
    }, true);
    if (!id) fetched.delete(key);
  }
  const answers = (key && fetched.get(key)) || [];
  box._list.replaceChildren(...answers.slice(0, 3).map((a) => h('li', { class: 'answer' },
    h('button', {
      type: 'button', class: 'answer-use', 'data-sc': 'answer', title: 'Insert this answer to edit it',
      onclick: () => pane.insertText(a.text),
    }, h('span', { class: 'answer-text', text: a.text })),
    h('span', { class: 'answer-from', text: from(a) }))));
  show(box, answers.length > 0);
}

function from(a) {
  const score = `${Math.round((a.score || 0) * 100)}% match`;
  if (a.shortcut) return `Canned /${a.shortcut} · ${score}`;
  return `${a.marked ? 'Knowledge base' : 'Past chat'}${a.question ? ` · asked “${a.question.slice(0, 80)}”` : ''} · ${score}`;
}

// markButton toggles an operator message as a knowledge-base answer.
export function markButton(c, m) {
  const key = `${c.id}:${m.seq}`;
  const btn = h('button', { type: 'button', class: 'link-btn msg-action', 'data-sc': 'mark-answer' });
  const paint = () => {
    const on = !!marked.get(key);
    btn.textContent = on ? 'In knowledge base ✓' : 'Add to knowledge base';
    btn.title = on ? 'Remove this answer from the knowledge base' : 'Suggest this answer for similar questions, and let the FAQ bot use it';
    btn.setAttribute('aria-pressed', String(on));
  };
  btn.addEventListener('click', () => {
    const on = !marked.get(key);
    request({ type: 'answers', conv: c.id, seq: m.seq, action: on ? 'mark' : 'unmark' }, (f, err) => {
      if (err) return;
      marked.set(key, on);
      paint();
      toast(on ? 'Added to the knowledge base' : 'Removed from the knowledge base');
    });
  });
  paint();
  return btn;
}

// botSection is the Reports tab's section on the bot, or null if it had no
// conversation in the range.
export function botSection(rep, money) {
  const b = rep.bot || {};
  if (!b.conversations) return null;
  const kpi = (label, value, sub) => h('div', { class: 'kpi' }, h('div', { class: 'kpi-label', text: label }), h('div', { class: 'kpi-value', text: value }), h('div', { class: 'kpi-sub', text: sub }));
  return h('section', { class: 'card report-section', 'data-sc': 'report-bot' },
    h('h3', { text: 'Bot' }),
    h('div', { class: 'conv-compare' },
      kpi('Conversations', String(b.conversations), 'started with the bot'),
      kpi('Resolved by the bot', String(b.resolved || 0), `${b.orders_resolved || 0} orders, ${money(b.revenue_resolved || 0, rep.currency)}`),
      kpi('Handed off', String(b.handed_off || 0), `${b.orders_handed_off || 0} orders, ${money(b.revenue_handed_off || 0, rep.currency)}`)));
}
