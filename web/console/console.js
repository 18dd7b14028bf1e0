// shopchat operator console: plain ES2020 modules, no build step, no
// dependencies. This is the entry (a module script): it loads the others,
// one per part of the console, wires the page and connects.
//
// Security: every piece of text that comes from the server (visitor names,
// messages, page URLs and titles, shop data) is attacker-controlled. It is
// put into the page only with textContent / createTextNode, never as HTML,
// and links are made only for absolute http(s) URLs. The console runs under
// a strict CSP (no inline scripts or styles), so styling is done by classes.

import './config.js';
import { byId, narrowMQ, show, wideMQ } from './helpers.js';
import { S } from './state.js';
import { persistNow } from './persistence.js';
import { renderNotifyButton } from './alerts.js';
import './toasts.js';
import { connect, reconnectNow } from './connection.js';
import './frames.js';
import './conversations.js';
import './history.js';
import { renderDetails, renderDrawer } from './details.js';
import { clearSearch, doSearch } from './search.js';
import { setPresence, transfer } from './actions.js';
import './outbox.js';
import { Pane } from './panes.js';
import { renderLists, renderMe, renderSound, scheduleRender } from './rendering.js';
import { renderTeamSelection } from './team.js';
import { TABS, setTab } from './tabs.js';
import './visitors.js';
import { openCannedEditor, saveCanned } from './canned.js';
import { openTriggerEditor } from './triggers.js';
import { loadReport, reportURL } from './reports.js';

for (const t of TABS) byId(`tab-${t}`).addEventListener('click', () => setTab(t));
byId('canned-new').addEventListener('click', () => openCannedEditor(null));
byId('canned-cancel').addEventListener('click', () => show(byId('canned-form'), false));
byId('canned-form').addEventListener('submit', saveCanned);
byId('trigger-new').addEventListener('click', () => openTriggerEditor(null));
byId('trigger-cancel').addEventListener('click', () => show(byId('trigger-form'), false));
byId('report-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadReport(); });
for (const id of ['report-from', 'report-to', 'report-period']) byId(id).addEventListener('change', () => { byId('report-csv').href = reportURL('csv'); });
byId('report-csv').href = reportURL('csv');

byId('presence').value = S.presence;
byId('presence').addEventListener('change', (ev) => setPresence(ev.target.value));
// Also notice a value set without an event (automation, form restore).
setInterval(() => {
  const v = byId('presence').value;
  if ((v === 'online' || v === 'away') && v !== S.presence) setPresence(v);
}, 1000);
byId('search').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter') {
    ev.preventDefault();
    doSearch(ev.target.value);
  } else if (ev.key === 'Escape') {
    clearSearch();
  }
});
byId('search').addEventListener('search', (ev) => { if (!ev.target.value) clearSearch(); });
byId('search-clear').addEventListener('click', clearSearch);
byId('transfer-go').addEventListener('click', transfer);
byId('transfer-operator').addEventListener('change', renderTeamSelection);
byId('details-close').addEventListener('click', () => {
  document.body.classList.remove('details-open');
  renderDrawer();
});
byId('scrim').addEventListener('click', () => {
  document.body.classList.remove('details-open');
  renderDrawer();
});
wideMQ.addEventListener('change', renderDrawer);
narrowMQ.addEventListener('change', scheduleRender);

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && !S.ws && !S.unauthorized) reconnectNow();
  scheduleRender();
});
window.addEventListener('focus', scheduleRender);
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && document.body.classList.contains('details-open')) {
    document.body.classList.remove('details-open');
    renderDrawer();
  }
});
window.addEventListener('pagehide', () => {
  for (const p of S.panes) if (p.conv) p.conv.draft = p.input.value;
  persistNow();
});

document.body.dataset.tab = S.tab;
const first = new Pane(0);
S.panes.push(first);
S.focused = first;
byId('panes').append(first.root);
first.render();
renderMe();
renderNotifyButton();
renderSound();
renderDetails();
renderLists();
connect();
