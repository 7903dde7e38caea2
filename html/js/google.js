// "Add a Gemini account through Google": the credential tool in the
// browser.  The console makes the PKCE pair and the state, opens Google's
// authorisation, reads the code from the localhost address the user pastes
// back (checking the state), and the server exchanges it, finds the
// project and stores the account (POST v2/gemini/exchange).

import * as api from './api.js';
import { $, h, clear, toast } from './dom.js';

// the public "installed application" clients (their secrets are public
// too, and stay on the server); a login must use the client its account
// will refresh with
export const FLAVOURS = {
    'gemini-cli': {
        client: '681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com',
        scopes: ['cloud-platform', 'userinfo.email', 'userinfo.profile'],
        redirect: 'http://127.0.0.1:8085/oauth2callback',
    },
    antigravity: {
        client: '1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com',
        scopes: ['cloud-platform', 'userinfo.email', 'userinfo.profile', 'cclog',
                 'experimentsandconfigs'],
        redirect: 'http://localhost:51121/oauth-callback',
    },
};
const AUTH_URL = 'https://accounts.google.com/o/oauth2/v2/auth';

let hooks = {};
let pending = null;   // {flavour, state, verifier}

export function init(h_) {
    hooks = h_;
    $('google-start').addEventListener('click', start);
    $('google-send').addEventListener('click', send);
}

function b64url(bytes) {
    let s = '';
    for (const b of bytes) {
        s += String.fromCharCode(b);
    }
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// S256 where the page may hash (a secure context: https or loopback);
// RFC 7636's "plain" elsewhere
async function challengeOf(verifier) {
    if (!crypto.subtle) {
        return { challenge: verifier, method: 'plain' };
    }
    const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    return { challenge: b64url(new Uint8Array(d)), method: 'S256' };
}

async function start() {
    const flavour = $('google-flavour').value;
    const f = FLAVOURS[flavour];
    const verifier = b64url(crypto.getRandomValues(new Uint8Array(64)));
    const state = b64url(crypto.getRandomValues(new Uint8Array(32)));
    const { challenge, method } = await challengeOf(verifier);
    const q = new URLSearchParams({
        redirect_uri: f.redirect,
        access_type: 'offline',
        // openid: the id token whose subject names the Google account
        scope: ['openid', ...f.scopes.map((s) => `https://www.googleapis.com/auth/${s}`)]
            .join(' '),
        state,
        response_type: 'code',
        client_id: f.client,
        prompt: 'consent',
        code_challenge: challenge,
        code_challenge_method: method,
    });
    pending = { flavour, state, verifier };
    const url = `${AUTH_URL}?${q}`;
    $('google-link').href = url;
    $('google-redirect').textContent = f.redirect;
    $('google-step2').hidden = false;
    window.open(url, '_blank', 'noreferrer');
    $('google-paste').focus();
}

async function send() {
    const out = $('google-out');
    let u;
    try {
        u = new URL($('google-paste').value.trim());
    } catch {
        clear(out, h('p', { class: 'error' }, 'Paste the whole address, starting with http://'));
        return;
    }
    const q = u.searchParams;
    if (q.get('error')) {
        clear(out, h('p', { class: 'error' }, `Google did not grant access (${q.get('error')}).`));
        return;
    }
    if (!pending || q.get('state') !== pending.state) {
        clear(out, h('p', { class: 'error' },
                      'This address is not the answer to the login opened here: open Google again.'));
        return;
    }
    if (!q.get('code')) {
        clear(out, h('p', { class: 'error' }, 'The address has no code: paste all of it.'));
        return;
    }
    $('google-send').disabled = true;
    clear(out, h('p', { class: 'muted' }, 'Exchanging the code, finding the project\u2026'));
    try {
        const body = {
            code: q.get('code'),
            code_verifier: pending.verifier,
            redirect_uri: FLAVOURS[pending.flavour].redirect,
            flavour: pending.flavour,
        };
        const label = $('google-label').value.trim();
        if (label) {
            body.label = label;
        }
        const r = await api.call('POST', 'v2/gemini/exchange', body);
        pending = null;
        $('google-paste').value = '';
        const a = r.account || {};
        const project = a.other && a.other.project;
        clear(out, h('p', { class: 'ok-text' },
                     `${r.created ? 'Added' : 'Already in the pool, login renewed'}: `
                     + `account ${a.id} (${a.label || 'no label'})`,
                     project ? `, project ${project}` : '',
                     r.project_lookup && r.project_lookup !== 'ok'
                         ? `; project lookup: ${r.project_lookup}` : ''));
        toast('Gemini account added');
        hooks.onAccount && hooks.onAccount();
    } catch (e) {
        clear(out, h('p', { class: 'error' }, e.message));
    } finally {
        $('google-send').disabled = false;
    }
}
