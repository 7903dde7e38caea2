// The create / edit dialog.  An edit sends only what changed; secrets are
// never shown (the API masks them) and a secret left empty stays.

import * as api from './api.js';
import { $, toast } from './dom.js';

const SECRETS = ['clientSecret', 'refreshToken', 'accessToken'];
const PLAIN = ['label', 'type', 'clientId', 'profileArn'];

let current = null;
let done = () => {};

export function init() {
    const form = $('editor-form');
    form.addEventListener('submit', async (ev) => {
        if (ev.submitter && ev.submitter.value !== 'save') {
            return;   // Cancel closes the dialog
        }
        ev.preventDefault();
        await save(form);
    });
}

export function open(account, then) {
    const form = $('editor-form');
    current = account;
    done = then || (() => {});
    form.reset();
    $('editor-title').textContent = account ? 'Edit account' : 'New account';
    $('editor-error').textContent = '';
    $('editor-hint').hidden = !account;
    form.elements.id.value = account ? account.id : '';
    form.elements.id.readOnly = !!account;
    for (const k of PLAIN) {
        form.elements[k].value = account && account[k] ? account[k] : '';
    }
    if (!account) {
        form.elements.type.value = 'amazonq';
    }
    form.elements.enabled.checked = account ? !!account.enabled : true;
    $('editor').showModal();
}

function body(form) {
    const b = {};
    const el = form.elements;
    if (!current) {
        if (el.id.value.trim()) {
            b.id = el.id.value.trim();
        }
        for (const k of PLAIN) {
            if (el[k].value.trim()) {
                b[k] = el[k].value.trim();
            }
        }
    } else {
        for (const k of PLAIN) {
            const v = el[k].value.trim();
            if (v !== (current[k] || '')) {
                b[k] = v;
            }
        }
    }
    for (const k of SECRETS) {
        if (el[k].value.trim()) {
            b[k] = el[k].value.trim();
        }
    }
    if (!current || el.enabled.checked !== !!current.enabled) {
        b.enabled = el.enabled.checked;
    }
    return b;
}

async function save(form) {
    const b = body(form);
    $('editor-save').disabled = true;
    try {
        const row = current
            ? await api.call('PATCH', `v2/accounts/${encodeURIComponent(current.id)}`, b)
            : await api.call('POST', 'v2/accounts', b);
        $('editor').close();
        toast(`${current ? 'Saved' : 'Created'} ${row.label || row.id}`);
        done();
    } catch (e) {
        $('editor-error').textContent = e.message;
    } finally {
        $('editor-save').disabled = false;
    }
}
