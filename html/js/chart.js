// A line chart in plain SVG: a few series over time, a y axis from 0 with
// its top value, the first and last times, and a legend.  Built with DOM
// calls only (no markup strings), so it needs nothing but the page's CSP.

const NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 180;
const PAD = { l: 44, r: 8, t: 8, b: 22 };

function el(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        e.setAttribute(k, String(v));
    }
    if (text !== undefined) {
        e.textContent = text;
    }
    return e;
}

const timeFmt = new Intl.DateTimeFormat(undefined,
                                        { hour: '2-digit', minute: '2-digit' });

// a "nice" top for the axis: 1, 2 or 5 times a power of ten
function niceTop(max) {
    if (max <= 0) {
        return 1;
    }
    const p = 10 ** Math.floor(Math.log10(max));
    return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max);
}

// times: seconds since the epoch; series: [{name, cls, values}]
export function lineChart(title, times, series) {
    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart',
                            role: 'img', 'aria-label': title });
    const top = niceTop(Math.max(0, ...series.flatMap((s) => s.values)));
    const t0 = times[0];
    const t1 = times[times.length - 1];
    const x = (t) => PAD.l + (t1 > t0 ? (t - t0) / (t1 - t0) : 1)
        * (W - PAD.l - PAD.r);
    const y = (v) => H - PAD.b - (v / top) * (H - PAD.t - PAD.b);

    svg.appendChild(el('title', {}, title));
    for (const v of [0, top / 2, top]) {
        svg.appendChild(el('line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v),
                                     class: 'grid' }));
        svg.appendChild(el('text', { x: PAD.l - 4, y: y(v) + 4, class: 'axis',
                                     'text-anchor': 'end' },
                           Number.isInteger(v) ? String(v) : v.toFixed(1)));
    }
    if (times.length) {
        svg.appendChild(el('text', { x: PAD.l, y: H - 6, class: 'axis' },
                           timeFmt.format(new Date(t0 * 1000))));
        svg.appendChild(el('text', { x: W - PAD.r, y: H - 6, class: 'axis',
                                     'text-anchor': 'end' },
                           timeFmt.format(new Date(t1 * 1000))));
    }
    for (const s of series) {
        const pts = s.values.map((v, i) => `${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`);
        if (pts.length === 1) {
            svg.appendChild(el('circle', { cx: x(times[0]), cy: y(s.values[0]), r: 3,
                                           class: `line ${s.cls}` }));
        } else if (pts.length) {
            svg.appendChild(el('polyline', { points: pts.join(' '),
                                             class: `line ${s.cls}` }));
        }
    }

    const legend = document.createElement('div');
    legend.className = 'legend';
    for (const s of series) {
        const item = document.createElement('span');
        item.className = `key ${s.cls}`;
        item.textContent = `${s.name}: ${s.values.length ? s.values[s.values.length - 1] : '\u2014'}`;
        legend.appendChild(item);
    }

    const figure = document.createElement('figure');
    figure.className = 'chart-box';
    const caption = document.createElement('figcaption');
    caption.textContent = title;
    figure.append(caption, svg, legend);
    return figure;
}
