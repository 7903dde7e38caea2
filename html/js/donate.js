// The public donate page: the warning first, then Google's login (the
// server seals its state and PKCE), the pasted localhost address, and the
// pool's counts, quota per model group and reset countdowns, refreshed
// every 30 s.  No session, no secret: the API answers anyone.

import { $, h, clear, fmtTime, parseTime } from './dom.js';

const meta = document.querySelector('meta[name="q2api-donate"]');
const base = new URL(meta ? meta.content : 'donate/api/', document.baseURI);
const REFRESH_MS = 30000;

// reset times as absolute instants, for the countdowns to tick
const countdowns = [];
let refreshTimer;

async function call(method, path, body) {
    const res = await fetch(new URL(path, base), {
        method,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const b = await res.json().catch(() => null);
    if (!res.ok) {
        const d = b && typeof b.detail === 'string' ? b.detail : `HTTP ${res.status}`;
        throw new Error(res.status === 429 && !b
            ? 'too many attempts from your address: wait a minute and try again' : d);
    }
    return b;
}

function say(text, cls) {
    const p = $('donate-result');
    p.textContent = text;
    p.className = cls || '';
}

// "2 d 3 h", "4 h 05 min", "12 min 07 s", or "reset"
export function countdown(ms) {
    if (ms <= 0) {
        return 'reset';
    }
    const s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400);
    const hr = Math.floor(s / 3600) % 24;
    const m = Math.floor(s / 60) % 60;
    const pad = (n) => String(n).padStart(2, '0');
    if (d) {
        return `${d} d ${hr} h`;
    }
    if (hr) {
        return `${hr} h ${pad(m)} min`;
    }
    return `${m} min ${pad(s % 60)} s`;
}

function tick() {
    const now = Date.now();
    for (const c of countdowns) {
        c.el.textContent = countdown(c.at - now);
    }
}

function resetCell(item, fetched) {
    const el = h('span', { class: 'countdown' });
    if (typeof item.reset_in === 'number') {
        const at = fetched + item.reset_in * 1000;
        el.title = fmtTime(item.reset_at);
        countdowns.push({ el, at });
    } else {
        el.textContent = '\u2014';
    }
    return el;
}

function bar(percent) {
    const fill = h('span');
    fill.style.width = `${Math.max(0, Math.min(100, percent))}%`;
    return h('span', { class: 'quota' }, h('span', { class: 'bar' }, fill),
             `${percent} %`);
}

// only the flavours this server offers, its default first
function offer(flavours) {
    const sel = $('donate-flavour');
    if (!Array.isArray(flavours) || sel.dataset.offered) {
        return;
    }
    const names = new Map([...sel.options].map((o) => [o.value, o.textContent]));
    clear(sel, flavours.filter((f) => names.has(f))
        .map((f) => h('option', { value: f }, names.get(f))));
    sel.dataset.offered = '1';
    sel.closest('label').hidden = sel.options.length < 2;
}

function render(s, fetched) {
    offer(s.flavours);
    countdowns.length = 0;
    $('pool-counts').textContent = `${s.accounts} account${s.accounts === 1 ? '' : 's'}, `
        + `${s.active} active`;

    const groups = $('pool-groups').tBodies[0];
    clear(groups);
    for (const g of s.groups || []) {
        groups.appendChild(h('tr', null,
            h('td', null, g.name),
            h('td', { class: 'num' }, String(g.accounts)),
            h('td', { class: 'num' }, bar(g.remaining_percent)),
            h('td', null, resetCell(g, fetched))));
    }
    if (!groups.rows.length) {
        groups.appendChild(h('tr', null, h('td', { colSpan: 4, class: 'muted' },
            'No quota known yet.')));
    }

    const recent = $('pool-recent').tBodies[0];
    clear(recent);
    for (const a of s.recent || []) {
        recent.appendChild(h('tr', null,
            h('td', null, a.label),
            h('td', null, a.project || '\u2014'),
            h('td', null, h('span', { class: `badge ${a.status}` }, a.status)),
            h('td', null, fmtTime(a.donated_at)),
            h('td', null, (a.quota || []).map((q) => h('span', { class: 'sub' },
                `${q.group}: ${q.remaining_percent} %, reset in `,
                resetCell(q, fetched))))));
    }
    if (!recent.rows.length) {
        recent.appendChild(h('tr', null, h('td', { colSpan: 5, class: 'muted' },
            'No donation yet.')));
    }

    const up = parseTime(s.updated_at);
    $('pool-updated').textContent = `Updated ${up ? up.toLocaleTimeString() : ''}; `
        + 'refreshed every 30 s.';
    tick();
}

async function refresh() {
    clearTimeout(refreshTimer);
    try {
        const fetched = Date.now();
        render(await call('GET', 'status'), fetched);
    } catch (e) {
        $('pool-updated').textContent = `Could not read the pool: ${e.message}`;
    }
    refreshTimer = setTimeout(refresh, REFRESH_MS);
}

async function start() {
    $('donate-start').disabled = true;
    say('');
    try {
        const s = await call('POST', 'start', { flavour: $('donate-flavour').value });
        $('donate-redirect').textContent = s.redirect_uri;
        $('donate-url').href = s.url;
        $('donate-link').hidden = false;
        $('donate-paste').disabled = false;
        $('donate-send').disabled = false;
        window.open(s.url, '_blank', 'noreferrer');
        $('donate-paste').focus();
    } catch (e) {
        say(`Could not start: ${e.message}`, 'error');
    } finally {
        $('donate-start').disabled = !$('donate-agree').checked;
    }
}

async function send() {
    const url = $('donate-paste').value.trim();
    if (!url) {
        say('Paste the address first.', 'error');
        return;
    }
    $('donate-send').disabled = true;
    say('Checking with Google\u2026', 'muted');
    try {
        const r = await call('POST', 'exchange', { url });
        say(r.created
            ? `Thank you: account ${r.label} joined the pool.`
            : `Thank you: this Google account (${r.label}) was here already; `
              + 'its login is renewed.', 'ok-text');
        $('donate-paste').value = '';
        refresh();
    } catch (e) {
        say(e.message, 'error');
    } finally {
        $('donate-send').disabled = false;
    }
}

function init() {
    $('donate-agree').addEventListener('change', (e) => {
        $('donate-start').disabled = !e.target.checked;
    });
    $('donate-start').addEventListener('click', start);
    $('donate-send').addEventListener('click', send);
    $('donate-paste').addEventListener('keydown', (e) => {
        if (e.key === 'Enter') {
            send();
        }
    });
    setInterval(tick, 1000);
    refresh();
}

init();
