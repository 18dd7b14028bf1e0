// shopchat operator console: attachments. Files are uploaded over HTTP
// (POST attachments?role=operator, the console's own login) and sent by id
// with a message or note; a message's files show as thumbnails that open
// full size, or as download links.
import { mount } from './config.js';
import { h } from './helpers.js';
import { toast } from './toasts.js';
import { enqueue } from './outbox.js';

export function attachmentsEl(as) {
  return h('div', { class: 'msg-files' }, ...as.map((a) => {
    const url = mount + 'attachments/' + encodeURIComponent(String(a.id || '')) + '?role=operator';
    const name = String(a.name || 'file');
    return /^image\//.test(a.type)
      ? h('a', { href: url, target: '_blank', rel: 'noopener', 'data-sc': 'attachment', 'aria-label': `Open ${name} full size` }, h('img', { class: 'msg-thumb', src: url, alt: name, loading: 'lazy' }))
      : h('a', { href: url + '&download=1', download: name, class: 'msg-file', 'data-sc': 'attachment', text: `${name} (${Math.max(1, Math.round((a.size || 0) / 1024))} KB)` });
  }));
}

// uploadFiles uploads files for the pane's conversation and sends each,
// once stored, as a message (or a note, with Note on) of its own.
export function uploadFiles(pane, files) {
  const c = pane.conv;
  if (!c) return;
  for (const file of files) {
    const x = new XMLHttpRequest();
    const bar = h('progress', { max: '1', value: '0', 'data-sc': 'upload-progress', 'aria-label': `Uploading ${file.name}` });
    const row = h('div', { class: 'upload-row', 'data-sc': 'upload' }, h('span', { text: file.name }), bar,
      h('button', { type: 'button', class: 'link-btn', 'data-sc': 'upload-cancel', text: 'Cancel', onclick: () => { x.abort(); row.remove(); } }));
    pane.uploads.append(row);
    x.open('POST', mount + 'attachments?role=operator&name=' + encodeURIComponent(file.name || 'file'));
    x.upload.onprogress = (ev) => { if (ev.lengthComputable) bar.value = ev.loaded / ev.total; };
    x.onload = () => {
      row.remove();
      if (x.status !== 201) return toast(`${file.name}: ${x.responseText.trim().slice(0, 120) || 'upload failed'}`, 'error');
      const a = JSON.parse(x.responseText), note = pane.noteBox.checked || !pane.writable();
      enqueue(c, note ? 'note' : 'message', '', !note && pane.silentBox.checked, [a.id]);
    };
    x.onerror = () => { row.remove(); toast(`${file.name}: upload failed`, 'error'); };
    x.send(file);
  }
}
