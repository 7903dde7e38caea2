// The console's entry: login, logout, tabs, and the parts that fill them.

import * as api from './api.js';
import { $, toast } from './dom.js';
import * as accounts from './accounts.js';
import * as transfer from './transfer.js';
import * as device from './device.js';
import * as chat from './chat.js';
import * as health from './health.js';
import * as pool from './pool.js';
import * as google from './google.js';

function showLogin(reason) {
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = reason || '';
    $('login-password').value = '';
    $('login-password').focus();
}

function showApp() {
    const s = api.session();
    $('login').hidden = true;
    $('app').hidden = false;
    $('session-info').textContent = s
        ? `session until ${new Date(s.expires * 1000).toLocaleString()}` : '';
    api.watchExpiry();
    accounts.load();
}

function selectTab(name) {
    for (const b of $('tabs').querySelectorAll('button')) {
        b.classList.toggle('active', b.dataset.tab === name);
    }
    for (const s of document.querySelectorAll('main > .tab')) {
        s.hidden = s.id !== `tab-${name}`;
    }
    if (name === 'pool') {
        pool.load();
    }
}

function init() {
    api.onSessionEnd(showLogin);

    $('login-form').addEventListener('submit', async (ev) => {
        ev.preventDefault();
        $('login-submit').disabled = true;
        $('login-error').textContent = '';
        try {
            await api.login($('login-password').value);
            showApp();
        } catch (e) {
            $('login-error').textContent = e.message;
        } finally {
            $('login-submit').disabled = false;
        }
    });

    $('logout').addEventListener('click', () => api.logout());

    $('tabs').addEventListener('click', (ev) => {
        const b = ev.target.closest('button[data-tab]');
        if (b) {
            selectTab(b.dataset.tab);
        }
    });

    accounts.init({
        onChat: (id) => {
            chat.useAccount(id);
            selectTab('chat');
        },
    });
    transfer.init({ onImported: () => accounts.load() });
    device.init({ onAccount: () => accounts.load() });
    google.init({ onAccount: () => accounts.load() });
    chat.init();
    health.init({ onDone: () => accounts.load() });

    window.addEventListener('unhandledrejection', (ev) => {
        if (!(ev.reason instanceof api.ApiError && ev.reason.status === 401)) {
            toast(String(ev.reason && ev.reason.message || ev.reason), true);
        }
    });

    // an expired session ends here, and the login says so
    if (api.session()) {
        showApp();
    } else if ($('login').hidden) {
        showLogin('');
    }
}

init();
