// Test all: a deep health check (GET healthz/deep?account_id=) of every
// account, two at a time, and amq2api's refresh of every token.

import * as api from './api.js';
import { $, h, clear, toast } from './dom.js';

const PAGE = 1000;
const PARALLEL = 2;

let hooks = {};
let stopped = false;

export function init(h_) {
    hooks = h_;
    $('health-run').addEventListener('click', testAll);
    $('health-stop').addEventListener('click', () => { stopped = true; });
    $('refresh-all').addEventListener('click', refreshAll);
}

async function allAccounts() {
    const all = [];
    for (let offset = 0; ; offset += PAGE) {
        const p = await api.call('GET', `v2/accounts?sort_by=id&sort_order=asc`
                                        + `&offset=${offset}&limit=${PAGE}`);
        all.push(...p.accounts);
        if (all.length >= p.total || p.accounts.length === 0) {
            return all;
        }
    }
}

function resultRow(a, ok, upstream, ms, message) {
    return h('tr', { 'data-id': a.id },
        h('td', {}, a.id),
        h('td', { class: 'wrap' }, a.label || ''),
        h('td', {}, h('span', { class: `badge ${ok ? 'ok' : 'bad'}` }, ok ? 'ok' : 'failed')),
        h('td', { class: 'num' }, upstream ?? '\u2014'),
        h('td', { class: 'num' }, ms === undefined ? '\u2014' : `${ms} ms`),
        h('td', { class: 'wrap' }, message || ''));
}

async function check(a) {
    const res = await api.raw('GET', `healthz/deep?account_id=${encodeURIComponent(a.id)}`);
    const b = await res.json().catch(() => null) || {};
    return resultRow(a, res.ok && b.status === 'ok', b.upstream_status,
                     b.latency_ms, b.status === 'ok' ? '' : api.describe(b, res.status));
}

async function testAll() {
    const body = $('health-results').tBodies[0];
    const progress = $('health-progress');
    stopped = false;
    $('health-run').disabled = true;
    $('health-stop').disabled = false;
    clear(body);
    try {
        const list = await allAccounts();
        let next = 0;
        let done = 0;
        let good = 0;
        progress.textContent = `0 of ${list.length}`;
        const worker = async () => {
            while (!stopped && next < list.length) {
                const a = list[next++];
                let tr;
                try {
                    tr = await check(a);
                } catch (e) {
                    if (e.status === 401) {
                        throw e;
                    }
                    tr = resultRow(a, false, undefined, undefined, e.message);
                }
                good += tr.querySelector('.badge.ok') ? 1 : 0;
                body.appendChild(tr);
                progress.textContent = `${++done} of ${list.length} tested, ${good} ok`;
            }
        };
        await Promise.all(Array.from({ length: PARALLEL }, worker));
        progress.textContent += stopped ? ' (stopped)' : ' \u2014 done';
        hooks.onDone();
    } catch (e) {
        progress.textContent = `Failed: ${e.message}`;
    } finally {
        $('health-run').disabled = false;
        $('health-stop').disabled = true;
    }
}

async function refreshAll() {
    const body = $('health-results').tBodies[0];
    $('refresh-all').disabled = true;
    $('health-progress').textContent = 'Refreshing every token\u2026';
    try {
        const r = await api.call('POST', 'v2/accounts/refresh-all');
        clear(body, (r.results || []).map((x) =>
            resultRow(x, x.status === 'success', undefined, undefined, x.message)));
        $('health-progress').textContent = r.message || '';
        toast(r.message || 'Refreshed');
        hooks.onDone();
    } catch (e) {
        $('health-progress').textContent = `Failed: ${e.message}`;
    } finally {
        $('refresh-all').disabled = false;
    }
}
