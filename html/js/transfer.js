// Import (pasted text or files) with the server's per-line results, and
// the export download.

import * as api from './api.js';
import { $, h, clear, toast, confirmDialog } from './dom.js';

let hooks = {};

export function init(h_) {
    hooks = h_;
    $('import-file').addEventListener('change', readFiles);
    $('import-run').addEventListener('click', run);
    $('export-json').addEventListener('click', () => download('json'));
    $('export-lines').addEventListener('click', () => download('lines'));
}

// The Kiro IDE keeps an IdC login in two files: the token, naming its
// client by clientIdHash, and the client registration.  Given together,
// they become one object, as the import wants it.
function joinKiro(objs) {
    const regs = objs.filter((o) => o && o.clientId && o.clientSecret
                                    && !o.refreshToken && !o.accessToken);
    const rest = objs.filter((o) => !regs.includes(o));
    for (const o of rest) {
        if (o && o.clientIdHash && !o.clientRegistration && regs.length === 1) {
            o.clientRegistration = regs[0];
        }
    }
    return rest.length && rest.every((o) => !o.clientIdHash || o.clientRegistration)
        ? rest : objs;
}

async function readFiles() {
    const files = [...$('import-file').files];
    if (files.length === 0) {
        return;
    }
    const texts = await Promise.all(files.map((f) => f.text()));
    if (texts.length === 1) {
        $('import-text').value = texts[0];
        return;
    }
    let objs = [];
    try {
        for (const t of texts) {
            const v = JSON.parse(t);
            objs = objs.concat(Array.isArray(v) ? v
                : v && Array.isArray(v.accounts) ? v.accounts : [v]);
        }
        $('import-text').value = JSON.stringify(joinKiro(objs), null, 2);
    } catch {
        // not all JSON: amq2api's lines, one file after another
        $('import-text').value = texts.map((t) => t.trimEnd()).join('\n');
    }
}

async function run() {
    const text = $('import-text').value;
    const out = $('import-result');
    if (!text.trim()) {
        clear(out, h('p', { class: 'error' }, 'Nothing to import.'));
        return;
    }
    $('import-run').disabled = true;
    try {
        const r = await api.call('POST', 'v2/accounts/import', text);
        const lines = (r.errors || []).map((e) => {
            const where = Object.entries(e).filter(([k]) => k !== 'error')
                .map(([k, v]) => `${k} ${v}`).join(', ');
            return h('li', { class: 'bad' }, `${where}: ${e.error}`);
        });
        clear(out,
              h('p', {}, `${r.total} read: ${r.created} created, `
                        + `${r.updated} updated, ${r.failed} failed.`),
              lines.length ? h('ul', { class: 'results' }, lines) : null);
        toast(`Imported ${r.created + r.updated} of ${r.total}`, r.failed > 0);
        hooks.onImported();
    } catch (e) {
        clear(out, h('p', { class: 'error' }, e.message));
    } finally {
        $('import-run').disabled = false;
    }
}

async function download(format) {
    if (!await confirmDialog('The export holds every account\'s secrets: '
                             + 'refresh and access tokens and client secrets. '
                             + 'Anyone with the file can use the accounts. '
                             + 'Download it?', 'Download')) {
        return;
    }
    try {
        const res = await api.raw('GET', `v2/accounts/export?format=${format}`);
        if (!res.ok) {
            const b = await res.json().catch(() => null);
            throw new Error(api.describe(b, res.status));
        }
        const blob = await res.blob();
        const a = h('a', {
            href: URL.createObjectURL(blob),
            download: `q2api-accounts-${new Date().toISOString().slice(0, 10)}`
                      + (format === 'json' ? '.json' : '.txt'),
        });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (e) {
        toast(`Export failed: ${e.message}`, true);
    }
}
