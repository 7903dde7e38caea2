// Pool totals over time (GET v2/status): the ring of samples the metrics
// keep, drawn as three charts: accounts by state, requests per interval,
// tokens per interval.  Counters in the ring only grow; the charts show
// what each interval added.  Read again every minute while the tab shows.

import * as api from './api.js';
import { $, clear, fmtNum } from './dom.js';
import { lineChart } from './chart.js';

const REFRESH_MS = 60000;
let timer;

function column(status, name) {
    const i = status.series.fields.indexOf(name);
    return status.series.samples.map((s) => (i >= 0 ? s[i] : 0));
}

function sum(...cols) {
    return cols[0].map((_, i) => cols.reduce((a, c) => a + c[i], 0));
}

// what each interval added to a counter; a restart (a drop) counts anew
function deltas(col) {
    return col.slice(1).map((v, i) => (v >= col[i] ? v - col[i] : v));
}

export function render(status) {
    const out = $('pool-charts');
    const samples = status.series ? status.series.samples : [];
    const p = status.pool || {};
    const st = p.states || {};
    $('pool-now').textContent = `${fmtNum(p.accounts)} accounts: `
        + `${fmtNum(st.active)} active, ${fmtNum((st.cooling || 0) + (st.quota || 0))} `
        + 'cooling or out of quota'
        + (typeof p.next_return === 'number'
            ? `, the next back in ${p.next_return} s` : '')
        + `; a sample every ${status.step} s.`;
    if (samples.length === 0) {
        clear(out, 'No sample yet: the first comes after one interval.');
        return;
    }
    const times = column(status, 'time');
    const later = times.slice(1);
    clear(out,
          lineChart('Accounts by state', times, [
              { name: 'active', cls: 's-active', values: column(status, 'active') },
              { name: 'cooling or out of quota', cls: 's-cooling',
                values: sum(column(status, 'cooling'), column(status, 'quota')) },
              { name: 'needing care', cls: 's-bad',
                values: sum(column(status, 'suspended'), column(status, 'token_rejected'),
                            column(status, 'needs_login'), column(status, 'too_many_errors')) },
              { name: 'disabled', cls: 's-disabled', values: column(status, 'disabled') },
          ]),
          lineChart(`Requests per ${status.step} s`, later, [
              { name: 'requests', cls: 's-requests', values: deltas(column(status, 'requests')) },
              { name: 'failed', cls: 's-bad', values: deltas(column(status, 'failed')) },
          ]),
          lineChart(`Tokens per ${status.step} s`, later, [
              { name: 'in', cls: 's-in', values: deltas(column(status, 'tokens_in')) },
              { name: 'out', cls: 's-out', values: deltas(column(status, 'tokens_out')) },
          ]));
}

export async function load() {
    clearTimeout(timer);
    if ($('tab-pool').hidden) {
        return;
    }
    try {
        render(await api.call('GET', 'v2/status'));
    } catch (e) {
        if (e.status === 401) {
            return;
        }
        $('pool-now').textContent = e.status === 404 || e.status === 503
            ? `No pool history here: ${e.message}.` : `Failed: ${e.message}`;
        clear($('pool-charts'));
    }
    timer = setTimeout(load, REFRESH_MS);
}
