// "URL login": the device-code login of an Amazon Q account.  The claim
// waits on the server until the user approves; the status is polled
// meanwhile so that the page shows how it goes.

import * as api from './api.js';
import { $, h, clear, toast } from './dom.js';

let hooks = {};
let poll;

export function init(h_) {
    hooks = h_;
    $('device-start').addEventListener('click', start);
}

// only a web address becomes a link
function safeLink(u) {
    try {
        const p = new URL(u);
        return p.protocol === 'https:' || p.protocol === 'http:' ? p.href : null;
    } catch {
        return null;
    }
}

async function start() {
    const out = $('device-out');
    const label = $('device-label').value.trim();
    $('device-start').disabled = true;
    clearInterval(poll);
    let s;
    try {
        s = await api.call('POST', 'v2/auth/start', label ? { label } : {});
    } catch (e) {
        clear(out, h('p', { class: 'error' }, e.message));
        $('device-start').disabled = false;
        return;
    }
    const link = safeLink(s.verificationUriComplete);
    const status = h('p', { id: 'device-status', class: 'muted' }, 'Waiting for approval\u2026');
    clear(out,
          h('p', {}, 'Open this address, sign in, and approve the code:'),
          link ? h('p', {}, h('a', { href: link, target: '_blank',
                                     rel: 'noopener noreferrer',
                                     id: 'device-link' }, link))
               : h('p', { class: 'error' }, 'The service gave no usable address.'),
          h('p', { class: 'device-code', id: 'device-code' }, s.userCode || ''),
          status);

    poll = setInterval(async () => {
        try {
            const st = await api.call('GET', `v2/auth/status/${encodeURIComponent(s.authId)}`);
            if (st.status === 'pending') {
                status.textContent = `Waiting for approval\u2026 ${st.remaining} s left`;
            }
        } catch {
            clearInterval(poll);
        }
    }, 2000);

    try {
        const c = await api.call('POST', `v2/auth/claim/${encodeURIComponent(s.authId)}`);
        if (c.status === 'completed') {
            status.className = 'ok';
            status.textContent = `Logged in: account ${c.accountId} added.`;
            toast('Account added');
            hooks.onAccount();
        } else {
            status.className = 'error';
            status.textContent = `Login ended: ${c.status}${c.error ? `: ${c.error}` : ''}`;
        }
    } catch (e) {
        status.className = 'error';
        status.textContent = `Login failed: ${e.message}`;
    } finally {
        clearInterval(poll);
        $('device-start').disabled = false;
    }
}
