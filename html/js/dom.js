// Building the page from API values without ever parsing them as HTML:
// every value becomes a text node or a property, so a label holding
// markup shows as its characters.

export function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
        if (v === undefined || v === null || v === false) {
            continue;
        }
        if (k === 'class') {
            el.className = v;
        } else if (k.startsWith('on')) {
            el.addEventListener(k.slice(2), v);
        } else if (k.startsWith('data-') || k.startsWith('aria-')) {
            el.setAttribute(k, String(v));
        } else {
            el[k] = v;
        }
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children) {
        if (c === undefined || c === null || c === false) {
            continue;
        }
        if (Array.isArray(c)) {
            append(el, c);
        } else if (c instanceof Node) {
            el.appendChild(c);
        } else {
            el.appendChild(document.createTextNode(String(c)));
        }
    }
}

export function $(id) {
    return document.getElementById(id);
}

export function clear(el, ...children) {
    el.replaceChildren();
    append(el, children);
    return el;
}

let toastTimer;

export function toast(text, bad) {
    const t = $('toast');
    t.textContent = text;
    t.className = 'show' + (bad ? ' bad' : '');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.className = ''; }, bad ? 6000 : 3000);
}

// the API's times are UTC without a zone: "2025-01-02T03:04:05"
export function parseTime(s) {
    if (!s) {
        return null;
    }
    const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : s + 'Z');
    return isNaN(d) ? null : d;
}

// one formatter each: toLocaleString() builds a new one per call, which
// costs more than the rest of a table row
const dateFmt = new Intl.DateTimeFormat(undefined,
                                        { dateStyle: 'medium', timeStyle: 'medium' });
const numFmt = new Intl.NumberFormat();

export function fmtTime(s) {
    const d = parseTime(s);
    return d ? dateFmt.format(d) : '\u2014';
}

export function ago(s) {
    const d = parseTime(s);
    if (!d) {
        return '\u2014';
    }
    const secs = Math.round((Date.now() - d.getTime()) / 1000);
    const abs = Math.abs(secs);
    const unit = abs < 60 ? [abs, 's'] : abs < 3600 ? [Math.round(abs / 60), 'min']
        : abs < 86400 ? [Math.round(abs / 3600), 'h'] : [Math.round(abs / 86400), 'd'];
    return secs >= 0 ? `${unit[0]} ${unit[1]} ago` : `in ${unit[0]} ${unit[1]}`;
}

export function fmtNum(n) {
    return typeof n === 'number' ? numFmt.format(n) : '\u2014';
}

// a yes/no question in the page's own dialog
export function confirmDialog(text, yes = 'OK') {
    const dlg = $('confirm');
    $('confirm-text').textContent = text;
    $('confirm-yes').textContent = yes;
    return new Promise((resolve) => {
        dlg.addEventListener('close', () => resolve(dlg.returnValue === 'yes'),
                             { once: true });
        dlg.returnValue = '';
        dlg.showModal();
    });
}

export function debounce(fn, ms) {
    let t;
    return (...a) => {
        clearTimeout(t);
        t = setTimeout(() => fn(...a), ms);
    };
}
