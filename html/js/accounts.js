// The accounts table: one page at a time from the server, which searches,
// filters and sorts (GET v2/accounts?q=&status=&type=&offset=&limit=).

import * as api from './api.js';
import { $, h, clear, toast, ago, fmtTime, fmtNum, confirmDialog,
         debounce } from './dom.js';
import * as editor from './editor.js';

const state = {
    q: '', status: '', type: '', enabled: '',
    sort_by: 'created_at', sort_order: 'desc',
    offset: 0, limit: 50, total: 0,
};
let hooks = {};
let seq = 0;

export function init(h) {
    hooks = h;
    $('search').addEventListener('input', debounce(() => {
        state.q = $('search').value.trim();
        state.offset = 0;
        load();
    }, 250));
    for (const [id, key] of [['filter-status', 'status'],
                             ['filter-kind', 'type'],
                             ['filter-enabled', 'enabled']]) {
        $(id).addEventListener('change', () => {
            state[key] = $(id).value;
            state.offset = 0;
            load();
        });
    }
    $('page-size').addEventListener('change', () => {
        state.limit = Number($('page-size').value);
        state.offset = 0;
        load();
    });
    $('prev').addEventListener('click', () => {
        state.offset = Math.max(0, state.offset - state.limit);
        load();
    });
    $('next').addEventListener('click', () => {
        state.offset += state.limit;
        load();
    });
    $('reload').addEventListener('click', () => load());
    $('new-account').addEventListener('click', () => editor.open(null, load));
    for (const th of document.querySelectorAll('#accounts th[data-sort]')) {
        th.addEventListener('click', () => sortBy(th.dataset.sort));
    }
    editor.init();
}

function sortBy(key) {
    if (state.sort_by === key) {
        state.sort_order = state.sort_order === 'asc' ? 'desc' : 'asc';
    } else {
        state.sort_by = key;
        state.sort_order = key === 'label' || key === 'type' ? 'asc' : 'desc';
    }
    state.offset = 0;
    load();
}

// encodeURIComponent, not URLSearchParams: the server reads "+" as itself
function query() {
    const p = [];
    for (const k of ['q', 'status', 'type', 'enabled']) {
        if (state[k]) {
            p.push(`${k}=${encodeURIComponent(state[k])}`);
        }
    }
    p.push(`sort_by=${state.sort_by}`, `sort_order=${state.sort_order}`,
           `offset=${state.offset}`, `limit=${state.limit}`);
    return p.join('&');
}

// resolves once the page is on screen (the benchmark times it)
export async function load() {
    const mine = ++seq;
    let page;
    try {
        page = await api.call('GET', `v2/accounts?${query()}`);
    } catch (e) {
        if (e.status !== 401) {
            toast(`Listing failed: ${e.message}`, true);
        }
        return;
    }
    if (mine !== seq) {
        return;   // a newer request answers instead
    }
    if (page.accounts.length === 0 && state.offset > 0 && page.total > 0) {
        state.offset = Math.max(0, (Math.ceil(page.total / state.limit) - 1)
                                   * state.limit);
        return load();
    }
    state.total = page.total;
    render(page.accounts);
    summary();
}

async function summary() {
    try {
        const s = await api.call('GET', 'healthz');
        $('pool-summary').textContent = `${s.accounts} accounts, ${s.usable} usable`;
    } catch {
        $('pool-summary').textContent = '';
    }
}

function render(rows) {
    for (const th of document.querySelectorAll('#accounts th[data-sort]')) {
        th.classList.toggle('asc', th.dataset.sort === state.sort_by
                                   && state.sort_order === 'asc');
        th.classList.toggle('desc', th.dataset.sort === state.sort_by
                                    && state.sort_order === 'desc');
    }
    const body = $('accounts').tBodies[0];
    const frag = document.createDocumentFragment();
    for (const a of rows) {
        frag.appendChild(row(a));
    }
    if (rows.length === 0) {
        frag.appendChild(h('tr', {}, h('td', { colSpan: 12, class: 'muted' },
            state.q || state.status || state.type || state.enabled
                ? 'No account matches.'
                : 'No accounts yet: create one, import, or log one in.')));
    }
    clear(body, frag);
    const first = state.total ? state.offset + 1 : 0;
    const last = state.offset + rows.length;
    $('page-info').textContent = `${first}\u2013${last} of ${state.total}`;
    $('prev').disabled = state.offset === 0;
    $('next').disabled = last >= state.total;
}

// what kind of login an account is: the kind's flavour
export function flavour(a) {
    const o = a.other && typeof a.other === 'object' ? a.other : {};
    if (a.type === 'kiro') {
        return String(o.provider || o.authMethod
                      || (a.clientId ? 'IdC' : 'social'));
    }
    return a.profileArn ? 'Identity Center' : 'Builder ID';
}

function statusCell(a) {
    const td = h('td', {}, h('span', { class: `badge ${a.status}` }, a.status));
    if (a.status_reason) {
        td.appendChild(h('span', { class: 'sub' }, a.status_reason));
    }
    if (a.status_until && a.status !== 'active') {
        td.appendChild(h('span', { class: 'sub', title: fmtTime(a.status_until) },
                         `until ${fmtTime(a.status_until)}`));
    }
    return td;
}

function creditsCell(a) {
    const td = h('td', { class: 'num' });
    if (a.type !== 'kiro') {
        td.textContent = '\u2014';
        return td;
    }
    td.appendChild(h('button', {
        type: 'button', class: 'link', title: 'Ask Kiro for the credits',
        onclick: async () => {
            clear(td, '\u2026');
            try {
                const u = await api.call('GET',
                    `v2/accounts/${encodeURIComponent(a.id)}/usage`);
                clear(td, `${fmtNum(u.remaining)} / ${fmtNum(u.limit)}`,
                      h('span', { class: 'sub' }, String(u.title || '')));
            } catch (e) {
                clear(td, h('span', { class: 'error', title: e.message },
                            'unavailable'));
            }
        },
    }, 'check'));
    return td;
}

function row(a) {
    const other = a.other && typeof a.other === 'object' ? a.other : {};
    const enabled = h('input', {
        type: 'checkbox', checked: !!a.enabled, 'aria-label': 'enabled',
        onchange: async () => {
            enabled.disabled = true;
            try {
                await api.call('PATCH', `v2/accounts/${encodeURIComponent(a.id)}`,
                               { enabled: enabled.checked });
                toast(`${a.label || a.id} ${enabled.checked ? 'enabled' : 'disabled'}`);
                load();
            } catch (e) {
                enabled.checked = !enabled.checked;
                toast(e.message, true);
            } finally {
                enabled.disabled = false;
            }
        },
    });
    return h('tr', { 'data-id': a.id },
        h('td', { class: 'wrap' }, a.label || h('span', { class: 'muted' }, '(no label)'),
          h('span', { class: 'sub' }, a.id)),
        h('td', {}, a.type, h('span', { class: 'sub' }, flavour(a))),
        statusCell(a),
        h('td', {}, enabled),
        h('td', { class: 'num' }, fmtNum(a.success_count)),
        h('td', { class: 'num', title: `${a.error_count} in a row` },
          fmtNum(a.total_errors)),
        h('td', { class: 'num' }, fmtNum(a.tokens_in)),
        h('td', { class: 'num' }, fmtNum(a.tokens_out)),
        h('td', { title: fmtTime(a.last_used) }, ago(a.last_used)),
        creditsCell(a),
        h('td', { class: 'wrap' }, a.profileArn || other.project || '\u2014'),
        h('td', {},
          h('button', { type: 'button', class: 'link',
                        onclick: () => editor.open(a, load) }, 'Edit'),
          h('button', { type: 'button', class: 'link',
                        onclick: () => refresh(a) }, 'Refresh'),
          h('button', { type: 'button', class: 'link',
                        onclick: () => hooks.onChat(a.id) }, 'Chat'),
          h('button', { type: 'button', class: 'link danger',
                        onclick: () => remove(a) }, 'Delete')));
}

async function refresh(a) {
    try {
        await api.call('POST', `v2/accounts/${encodeURIComponent(a.id)}/refresh`);
        toast(`Token of ${a.label || a.id} refreshed`);
        load();
    } catch (e) {
        toast(e.message, true);
    }
}

async function remove(a) {
    const name = a.label ? `"${a.label}" (${a.id})` : a.id;
    if (!await confirmDialog(`Delete account ${name}? Its tokens are gone `
                             + 'for good unless you have an export.', 'Delete')) {
        return;
    }
    try {
        await api.call('DELETE', `v2/accounts/${encodeURIComponent(a.id)}`);
        toast(`Deleted ${name}`);
        load();
    } catch (e) {
        toast(e.message, true);
    }
}
