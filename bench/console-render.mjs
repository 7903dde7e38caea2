// The console over a large pool (bench/console-render.pl starts nginx):
// the admin API's page and full listing times, and the time from a click
// to the page of rows on screen.  Medians of several runs; not a gate.

import { chromium } from '../t/browser/node_modules/playwright-core/index.mjs';

const URL_ = process.env.CONSOLE_URL;
const N = Number(process.env.BENCH_ACCOUNTS);
const RUNS = 7;

function median(xs) {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
}

async function timeApi(path) {
    const ms = [];
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
        const t = performance.now();
        const res = await fetch(new URL(`admin/${path}`, URL_), {
            headers: { Authorization: `Bearer ${process.env.ADMIN_PASSWORD}` },
        });
        bytes = (await res.arrayBuffer()).byteLength;
        ms.push(performance.now() - t);
    }
    return `${median(ms).toFixed(1)} ms, ${(bytes / 1024).toFixed(0)} KiB`;
}

const report = [];
report.push(['API: one page of 50, newest first', await timeApi('v2/accounts?limit=50')]);
report.push(['API: one page of 50, sorted by label, searched',
             await timeApi('v2/accounts?limit=50&sort_by=label&sort_order=asc&q=account%200')]);
report.push(['API: one page of 500', await timeApi('v2/accounts?limit=500')]);
report.push([`API: all ${N} (q2api's unpaged listing)`, await timeApi('v2/accounts')]);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM,
                                        headless: true, args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });

// login to the first page on screen
let t = performance.now();
await page.goto(URL_);
await page.fill('#login-password', process.env.ADMIN_PASSWORD);
await page.click('#login-submit');
await page.waitForFunction((n) => document.getElementById('page-info').textContent.endsWith(`of ${n}`), N);
report.push(['browser: login to the first 50 rows shown', `${(performance.now() - t).toFixed(0)} ms`]);

async function timeClick(label, selector, done) {
    const ms = [];
    for (let i = 0; i < RUNS; i++) {
        const before = await page.textContent('#accounts tbody');
        t = performance.now();
        await page.click(selector);
        await page.waitForFunction(([b, d]) => {
            const now = document.querySelector('#accounts tbody').textContent;
            return now !== b && (!d || new RegExp(d).test(document.getElementById('page-info').textContent));
        }, [before, done]);
        ms.push(performance.now() - t);
    }
    report.push([label, `${median(ms).toFixed(0)} ms`]);
}

await timeClick('browser: sort by label (click to rows)', '#accounts th[data-sort=label]');
await timeClick('browser: next page (click to rows)', '#next');
await page.selectOption('#page-size', '500');
await page.waitForFunction(() => document.querySelectorAll('#accounts tbody tr').length === 500);
await timeClick('browser: sort, 500 rows a page', '#accounts th[data-sort=tokens_in]');

await browser.close();

console.log(`console with ${N} accounts (median of ${RUNS}):`);
for (const [k, v] of report) {
    console.log(`  ${k.padEnd(52)} ${v}`);
}
