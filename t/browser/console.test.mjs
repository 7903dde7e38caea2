// The web console in headless Chromium, step by step on one page, as a
// newcomer uses it: run by t/browser/console.t, which starts nginx with
// the console's location and the mock, and sets:
//   CONSOLE_URL, ADMIN_PASSWORD, MOCK_STATE_DIR, CHROMIUM, ARTIFACTS

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { googleLogins } from './mock.mjs';

const URL_ = process.env.CONSOLE_URL;
const PASSWORD = process.env.ADMIN_PASSWORD;
const ARTIFACTS = process.env.ARTIFACTS;
const XSS = '<img src=x onerror="window.__xss=1">&amp;"\'';

let browser;
let page;
let shot = 0;
const violations = [];
const pageErrors = [];

async function api(method, path, body) {
    const res = await fetch(new URL(`admin/${path}`, URL_), {
        method,
        headers: { Authorization: `Bearer ${PASSWORD}`,
                   'Content-Type': 'application/json' },
        body: body === undefined ? undefined
            : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json().catch(() => null) };
}

async function screenshot(name) {
    shot += 1;
    await page.screenshot({ path: join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`),
                            fullPage: true });
}

async function login() {
    await page.fill('#login-password', PASSWORD);
    await page.click('#login-submit');
    await page.waitForSelector('#app:not([hidden])');
}

function rowOf(id) {
    return page.locator(`#accounts tbody tr[data-id="${id}"]`);
}

async function search(text) {
    if (await page.inputValue('#search') === text) {
        return;   // no input event, no request
    }
    const answered = page.waitForResponse((r) => r.url().includes('/v2/accounts?')
        && new URL(r.url()).searchParams.get('q') === (text || null));
    await page.fill('#search', text);
    await answered;
}

async function tab(name) {
    await page.click(`#tabs button[data-tab="${name}"]`);
    await page.waitForSelector(`#tab-${name}:not([hidden])`);
}

before(async () => {
    browser = await chromium.launch({
        executablePath: process.env.CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const context = await browser.newContext({ acceptDownloads: true,
                                               viewport: { width: 1400, height: 900 } });
    // CSP violations as the page sees them, and as the console reports them
    await context.addInitScript(() => {
        window.__csp = [];
        document.addEventListener('securitypolicyviolation', (e) => {
            window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
        });
    });
    page = await context.newPage();
    page.setDefaultTimeout(10000);
    page.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) {
            violations.push(m.text());
        }
    });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
});

after(async () => {
    await browser?.close();
});

test('the console is served with its security headers', async () => {
    const res = await page.goto(URL_);
    const hd = res.headers();
    assert.equal(res.status(), 200);
    assert.match(hd['content-security-policy'], /script-src 'self'/);
    assert.doesNotMatch(hd['content-security-policy'], /unsafe-inline|unsafe-eval/);
    assert.match(hd['content-security-policy'], /frame-ancestors 'none'/);
    assert.equal(hd['x-frame-options'], 'DENY');
    assert.equal(hd['referrer-policy'], 'no-referrer');
    const js = await page.request.get(new URL('js/app.js', URL_).href);
    assert.match(js.headers()['content-type'], /^text\/javascript/);
    assert.equal(js.headers()['x-frame-options'], 'DENY');
    await page.waitForSelector('#login:not([hidden])');
    await screenshot('login');
});

test('a wrong password is refused, the right one logs in', async () => {
    await page.fill('#login-password', 'not-the-password');
    await page.click('#login-submit');
    await page.waitForFunction(() => document.getElementById('login-error').textContent !== '');
    assert.equal(await page.textContent('#login-error'), 'Wrong password.');
    assert.equal(await page.isHidden('#app'), true);
    await login();
    const s = JSON.parse(await page.evaluate(() => sessionStorage.getItem('q2api.session')));
    assert.match(s.token, /^q2a1\./);
    assert.ok(s.expires * 1000 > Date.now());
    assert.match(await page.textContent('#accounts tbody'), /No accounts yet/);
    await screenshot('empty-pool');
});

test('logout forgets the session; a reload stays logged out', async () => {
    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('q2api.session')), null);
    await page.reload();
    await page.waitForSelector('#login:not([hidden])');
    await login();
});

test('an expired or refused session goes back to the login', async () => {
    await page.evaluate(() => {
        const s = JSON.parse(sessionStorage.getItem('q2api.session'));
        sessionStorage.setItem('q2api.session',
                               JSON.stringify({ ...s, expires: 1 }));
    });
    await page.reload();
    await page.waitForSelector('#login:not([hidden])');
    assert.match(await page.textContent('#login-error'), /Session expired/);
    await login();
    // a token the server no longer takes (forged): the first call ends it
    await page.evaluate(() => {
        const s = JSON.parse(sessionStorage.getItem('q2api.session'));
        sessionStorage.setItem('q2api.session',
                               JSON.stringify({ ...s, token: s.token.slice(0, -4) + 'AAAA' }));
    });
    await page.click('#reload');
    await page.waitForSelector('#login:not([hidden])');
    assert.match(await page.textContent('#login-error'), /log in again/);
    await login();
});

test('create an account from the dialog', async () => {
    await page.click('#new-account');
    await page.fill('#editor-form [name=id]', 'first');
    await page.fill('#editor-form [name=label]', 'First account');
    await page.fill('#editor-form [name=accessToken]', 'tok-first');
    await page.click('#editor-save');
    await rowOf('first').waitFor();
    assert.match(await rowOf('first').textContent(), /First account/);
    assert.equal((await api('GET', 'v2/accounts/first')).body.label, 'First account');
    // the server's refusal shows in the dialog, which stays open
    await page.click('#new-account');
    await page.fill('#editor-form [name=id]', 'first');
    await page.fill('#editor-form [name=accessToken]', 'tok-again');
    await page.click('#editor-save');
    await page.waitForFunction(() => document.getElementById('editor-error').textContent !== '');
    assert.match(await page.textContent('#editor-error'), /exists/);
    await screenshot('create-refused');
    await page.click('#editor-form button[value=cancel]');
    assert.equal(await page.evaluate(() => document.getElementById('editor').open), false);
});

test('a label holding markup is shown as its characters', async () => {
    assert.equal((await api('POST', 'v2/accounts',
                            { id: 'xss', label: XSS, accessToken: 'tok-xss' })).status, 200);
    await page.click('#reload');
    await rowOf('xss').waitFor();
    const cell = rowOf('xss').locator('td').first();
    assert.ok((await cell.textContent()).startsWith(XSS));
    assert.equal(await page.locator('#accounts tbody img').count(), 0);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    await screenshot('xss-label');
});

test('edit: the label changes, the secrets stay', async () => {
    await rowOf('first').getByRole('button', { name: 'Edit' }).click();
    assert.equal(await page.inputValue('#editor-form [name=label]'), 'First account');
    assert.equal(await page.inputValue('#editor-form [name=accessToken]'), '');
    await page.fill('#editor-form [name=label]', 'Renamed');
    await page.click('#editor-save');
    await page.waitForFunction(() => /Renamed/.test(
        document.querySelector('#accounts tr[data-id="first"]')?.textContent || ''));
    const { body } = await api('GET', 'v2/accounts/first');
    assert.equal(body.label, 'Renamed');
    assert.equal(body.accessToken, '\u2026(9)');   // masked, but still there
});

test('disable and enable with the toggle', async () => {
    const box = rowOf('first').locator('input[type=checkbox]');
    let answered = page.waitForResponse((r) => r.request().method() === 'PATCH');
    await box.uncheck();
    await answered;
    assert.equal((await api('GET', 'v2/accounts/first')).body.enabled, false);
    answered = page.waitForResponse((r) => r.request().method() === 'PATCH');
    await rowOf('first').locator('input[type=checkbox]').check();
    await answered;
    assert.equal((await api('GET', 'v2/accounts/first')).body.enabled, true);
});

test('list, search and sort over many accounts, a page at a time', async () => {
    const lines = [];
    for (let i = 0; i < 130; i++) {
        const n = String(i).padStart(3, '0');
        lines.push(`amazonq|bulk ${n}|cid-${n}|sec-${n}|rt-${n}|at-${n}`);
    }
    const r = await api('POST', 'v2/accounts/import', lines.join('\n'));
    assert.equal(r.body.created, 130);
    await page.click('#reload');
    await page.waitForFunction(() => /of 132$/.test(document.getElementById('page-info').textContent));
    assert.equal(await page.locator('#accounts tbody tr').count(), 50);
    await page.click('#next');
    await page.waitForFunction(() => /^51–100 of 132$/.test(document.getElementById('page-info').textContent));

    await search('BULK 12');
    await page.waitForFunction(() => /^1–10 of 10$/.test(document.getElementById('page-info').textContent));
    await search('');

    const sorted = page.waitForResponse((r) => /sort_by=label&sort_order=asc/.test(r.url()));
    await page.click('#accounts th[data-sort=label]');
    await sorted;
    await page.waitForFunction(() => document.querySelector('#accounts th[data-sort=label]').classList.contains('asc'));
    const first = await page.locator('#accounts tbody tr').first().getAttribute('data-id');
    assert.equal(first, 'xss');          // "<img..." sorts before letters
    const second = await page.locator('#accounts tbody tr').nth(1).locator('td').first().textContent();
    assert.match(second, /^bulk 000/);
    const desc = page.waitForResponse((r) => /sort_by=label&sort_order=desc/.test(r.url()));
    await page.click('#accounts th[data-sort=label]');
    await desc;
    await page.waitForFunction(() => document.querySelector('#accounts th[data-sort=label]').classList.contains('desc'));

    const filtered = page.waitForResponse((r) => /enabled=false/.test(r.url()));
    await page.selectOption('#filter-enabled', 'false');
    await filtered;
    await page.waitForFunction(() => /No account matches/.test(document.querySelector('#accounts tbody').textContent));
    await page.selectOption('#filter-enabled', '');
    await screenshot('sorted-by-label');
});

test('delete asks first, then the account is gone', async () => {
    await search('renamed');
    await rowOf('first').getByRole('button', { name: 'Delete' }).click();
    assert.match(await page.textContent('#confirm-text'), /Delete account "Renamed" \(first\)/);
    await screenshot('delete-confirm');
    await page.click('#confirm button[value=no]');
    assert.equal((await api('GET', 'v2/accounts/first')).status, 200);
    await rowOf('first').getByRole('button', { name: 'Delete' }).click();
    await page.click('#confirm-yes');
    await page.waitForFunction(() => !document.querySelector('#accounts tr[data-id="first"]'));
    assert.equal((await api('GET', 'v2/accounts/first')).status, 404);
    await search('');
});

test('export with its warning, then import the file back', async () => {
    await tab('import');
    await page.click('#export-json');
    assert.match(await page.textContent('#confirm-text'), /secrets/);
    const download = page.waitForEvent('download');
    await page.click('#confirm-yes');
    const file = join(process.env.ARTIFACTS, 'export.json');
    await (await download).saveAs(file);
    const exported = JSON.parse(readFileSync(file, 'utf8'));
    const rows = Array.isArray(exported) ? exported : exported.accounts;
    assert.equal(rows.length, 131);
    const x = rows.find((a) => a.id === 'xss');
    assert.equal(x.accessToken, 'tok-xss');   // in clear: it is a backup

    // lose two accounts, then restore them from the file
    const gone = rows.filter((a) => a.label === 'bulk 001' || a.label === 'bulk 002');
    for (const a of gone) {
        assert.equal((await api('DELETE', `v2/accounts/${a.id}`)).status, 200);
    }
    await page.setInputFiles('#import-file', file);
    await page.waitForFunction(() => document.getElementById('import-text').value.length > 0);
    await page.click('#import-run');
    await page.waitForFunction(() => /read:/.test(document.getElementById('import-result').textContent));
    assert.equal(await page.textContent('#import-result p'),
                 '131 read: 2 created, 129 updated, 0 failed.');
    for (const a of gone) {
        const back = await api('GET', `v2/accounts/${a.id}`);
        assert.equal(back.body.label, a.label);
    }
    unlinkSync(file);

    // pasted lines: each bad line is named
    await page.fill('#import-text', 'amazonq|pasted|cid-p|sec-p|rt-p|at-p\nnot a line\n');
    await page.click('#import-run');
    await page.waitForFunction(() => /2 read/.test(document.getElementById('import-result').textContent));
    assert.match(await page.textContent('#import-result'), /1 created, 0 updated, 1 failed/);
    assert.match(await page.textContent('#import-result li'), /^line 2: /);
    await screenshot('import-results');

    // a Kiro IDE IdC login: its token file and its client registration,
    // picked together, become one account with the client
    const hash = 'a2f3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9';
    await page.setInputFiles('#import-file', [
        { name: 'kiro-auth-token.json', mimeType: 'application/json',
          buffer: Buffer.from(JSON.stringify({
              accessToken: 'aoaAAAAidc-access-0123456789',
              refreshToken: 'aorAAAAidc-refresh-0123456789',
              expiresAt: '2030-01-02T03:04:05.000Z', clientIdHash: hash,
              authMethod: 'IdC', provider: 'BuilderId', region: 'us-east-1' })) },
        { name: `${hash}.json`, mimeType: 'application/json',
          buffer: Buffer.from(JSON.stringify({
              clientId: 'idc-client-id-0123',
              clientSecret: 'idc-client-secret-0123456789',
              expiresAt: '2030-08-01T00:00:00.000Z' })) },
    ]);
    await page.waitForFunction(() => /clientRegistration/.test(document.getElementById('import-text').value));
    await page.click('#import-run');
    await page.waitForFunction(() => /1 read/.test(document.getElementById('import-result').textContent));
    assert.equal(await page.textContent('#import-result p'), '1 read: 1 created, 0 updated, 0 failed.');
    const kiro = (await api('GET', 'v2/accounts?type=kiro')).body.accounts;
    assert.equal(kiro.length, 1);
    assert.equal(kiro[0].clientId, 'idc-client-id-0123');
    assert.equal(kiro[0].other.authMethod, 'IdC');

    // its credits, asked for from its row
    await tab('accounts');
    await page.selectOption('#filter-kind', 'kiro');
    await rowOf(kiro[0].id).waitFor();
    await rowOf(kiro[0].id).getByRole('button', { name: 'check' }).click();
    await page.waitForFunction((id) => /38 \/ 50/.test(
        document.querySelector(`#accounts tr[data-id="${id}"]`).textContent), kiro[0].id);
    await page.selectOption('#filter-kind', '');
});

test('URL login: the code, the wait, then the new account', async () => {
    await tab('device');
    await page.fill('#device-label', 'from the browser');
    await page.click('#device-start');
    await page.waitForSelector('#device-code');
    assert.equal(await page.textContent('#device-code'), 'WXYZ-1234');
    assert.equal(await page.getAttribute('#device-link', 'href'),
                 'https://device.example/?code=WXYZ-1234');
    await screenshot('device-login-waiting');
    await page.waitForFunction(() => /Logged in: account/.test(
        document.getElementById('device-status').textContent), null, { timeout: 30000 });
    const id = (await page.textContent('#device-status')).match(/account (\S+) added/)[1];
    const { body } = await api('GET', `v2/accounts/${id}`);
    assert.equal(body.label, 'from the browser');
    assert.equal(body.clientId, 'dev-client');
    await screenshot('device-login-done');
});

test('Gemini through Google: the URL the console opens, its state checked here', async () => {
    await tab('device');
    await page.context().route('https://accounts.google.com/**', (route) =>
        route.fulfill({ status: 200, contentType: 'text/html', body: '<title>Google</title>' }));
    await page.selectOption('#google-flavour', 'gemini-cli');
    const popup = page.waitForEvent('popup');
    await page.click('#google-start');
    const p = await popup;
    await p.waitForLoadState();
    const u = new URL(p.url());
    await p.close();
    assert.equal(u.origin + u.pathname, 'https://accounts.google.com/o/oauth2/v2/auth');
    assert.equal(u.searchParams.get('client_id'),
                 '681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com');
    assert.equal(u.searchParams.get('redirect_uri'), 'http://127.0.0.1:8085/oauth2callback');
    // loopback is a secure context: S256
    assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
    assert.match(u.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.match(u.searchParams.get('state'), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await page.textContent('#google-redirect'), 'http://127.0.0.1:8085/oauth2callback');

    // another login's answer is refused before anything is sent
    let sent = 0;
    const count = (r) => { if (r.url().includes('/v2/gemini/')) sent++; };
    page.on('request', count);
    await page.fill('#google-paste', 'http://127.0.0.1:8085/oauth2callback?state=forged&code=4/x');
    await page.click('#google-send');
    await page.waitForFunction(() => /not the answer to the login opened here/.test(
        document.getElementById('google-out').textContent));
    await page.fill('#google-paste', 'http://127.0.0.1:8085/oauth2callback?error=access_denied');
    await page.click('#google-send');
    await page.waitForFunction(() => /did not grant access \(access_denied\)/.test(
        document.getElementById('google-out').textContent));
    page.off('request', count);
    assert.equal(sent, 0);

    // the answer to this login: the server exchanges it and finds the project
    googleLogins([{ access: 'ya29.c1', refresh: '1//0c1', sub: '700000002',
                    email: 'operator@example.com' }]);
    const back = new URL('http://127.0.0.1:8085/oauth2callback');
    back.searchParams.set('state', u.searchParams.get('state'));
    back.searchParams.set('code', '4/0AQlEd8x-console');
    await page.fill('#google-paste', back.href);
    await page.click('#google-send');
    await page.waitForFunction(() => /^Added: account gemini-700000002/.test(
        document.getElementById('google-out').textContent), null, { timeout: 20000 });
    assert.equal(await page.textContent('#google-out'),
                 'Added: account gemini-700000002 (operator@example.com), '
                 + 'project fluent-cosmos-a1b2c3');
    const { body } = await api('GET', 'v2/accounts/gemini-700000002');
    assert.equal(body.type, 'gemini');
    assert.equal(body.flavour, 'gemini-cli');
    await screenshot('google-login');
    await api('DELETE', 'v2/accounts/gemini-700000002');
});

test('chat test: the answer streams in, on one account', async () => {
    await tab('accounts');
    await search('xss');
    await rowOf('xss').getByRole('button', { name: 'Chat' }).click();
    await page.waitForSelector('#tab-chat:not([hidden])');
    assert.equal(await page.inputValue('#chat-account'), 'xss');
    await page.fill('#chat-prompt', 'hello there');
    const chunks = [];
    await page.exposeFunction('__chunk', (t) => chunks.push(t));
    await page.evaluate(() => new MutationObserver(() =>
        window.__chunk(document.getElementById('chat-out').textContent))
        .observe(document.getElementById('chat-out'),
                 { childList: true, subtree: true, characterData: true }));
    await page.click('#chat-send');
    await page.waitForFunction(() => /end_turn/.test(document.getElementById('chat-meta').textContent));
    assert.equal(await page.textContent('#chat-out'), 'Hello from the mock.');
    assert.match(await page.textContent('#chat-meta'), /account xss/);
    // the text grew piece by piece: it was streamed, not shown at the end
    assert.ok(chunks.includes('Hello '), `partial texts: ${JSON.stringify(chunks)}`);
    const reqs = readdirSync(join(process.env.MOCK_STATE_DIR, 'requests'))
        .map((f) => JSON.parse(readFileSync(join(process.env.MOCK_STATE_DIR, 'requests', f))))
        .filter((r) => /hello there/.test(r.body || ''));
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].headers.authorization, 'Bearer tok-xss');
    await screenshot('chat-test');

    // and on the pool
    await page.fill('#chat-account', '');
    await page.click('#chat-send');
    await page.waitForFunction(() => /end_turn .* pool$/.test(document.getElementById('chat-meta').textContent));
    assert.equal(await page.textContent('#chat-out'), 'Hello from the mock.');
});

test('chat test in the OpenAI dialect: chunks stream in, usage at the end', async () => {
    await tab('chat');
    await page.selectOption('#chat-dialect', 'openai');
    await page.fill('#chat-account', 'xss');
    await page.fill('#chat-prompt', 'hello openai');
    const answered = page.waitForResponse((r) => r.url().includes('/v2/chat/test?'));
    await page.click('#chat-send');
    const res = await answered;
    assert.equal(new URL(res.url()).searchParams.get('dialect'), 'openai');
    await page.waitForFunction(() => /^stop \u00b7 /.test(document.getElementById('chat-meta').textContent));
    assert.equal(await page.textContent('#chat-out'), 'Hello from the mock.');
    // include_usage asked for the usage chunk: both counts are numbers
    assert.match(await page.textContent('#chat-meta'), /^stop \u00b7 \d+ in, \d+ out .* account xss$/);
    const reqs = readdirSync(join(process.env.MOCK_STATE_DIR, 'requests'))
        .map((f) => JSON.parse(readFileSync(join(process.env.MOCK_STATE_DIR, 'requests', f))))
        .filter((r) => /hello openai/.test(r.body || ''));
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].headers.authorization, 'Bearer tok-xss');
    await screenshot('chat-test-openai');
    await page.selectOption('#chat-dialect', 'claude');
});

test('refresh a token from its row', async () => {
    await tab('accounts');
    await search('bulk 007');
    const row = page.locator('#accounts tbody tr').first();
    const id = await row.getAttribute('data-id');
    const answered = page.waitForResponse((r) => r.url().endsWith(`/v2/accounts/${id}/refresh`));
    await row.getByRole('button', { name: 'Refresh' }).click();
    assert.equal((await answered).status(), 200);
    await page.waitForFunction(() => /Token of bulk 007 refreshed/.test(document.getElementById('toast').textContent));
    const { body } = await api('GET', `v2/accounts/${id}`);
    assert.equal(body.last_refresh_status, 'success');
    await search('');
});

test('test all: every account checked, each with its result', async () => {
    await tab('health');
    await page.click('#health-run');
    await page.waitForFunction(() => /done$/.test(document.getElementById('health-progress').textContent),
                               null, { timeout: 120000 });
    const total = (await api('GET', 'v2/accounts?limit=1')).body.total;
    assert.equal(await page.locator('#health-results tbody tr').count(), total);
    assert.match(await page.textContent('#health-progress'), new RegExp(`${total} of ${total} tested, ${total} ok`));
    await screenshot('test-all');
});

test('pool over time: three charts from the status ring', async () => {
    // a second or two of samples (q2api_metrics_interval 1s in console.t)
    let st;
    for (let i = 0; i < 50; i++) {
        st = (await api('GET', 'v2/status')).body;
        if (st.series.samples.length >= 3) {
            break;
        }
        await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(st.series.samples.length >= 3, 'the ring has samples');
    await tab('pool');
    await page.waitForSelector('#pool-charts svg.chart');
    const titles = await page.$$eval('#pool-charts figcaption', (f) => f.map((x) => x.textContent));
    assert.deepEqual(titles, [ 'Accounts by state', `Requests per ${st.step} s`,
                               `Tokens per ${st.step} s` ]);
    assert.equal(await page.locator('#pool-charts polyline').count(), 8);
    // the last sample's active accounts, as the legend shows them
    const legend = await page.textContent('#pool-charts .legend');
    assert.match(legend, /active: \d+/);
    assert.match(await page.textContent('#pool-now'),
                 new RegExp(`^${st.pool.accounts} accounts: `));
    // the requests of this suite are in the deltas
    const requests = await page.$$eval('#pool-charts figure:nth-child(2) polyline',
        (p) => p[0].getAttribute('points').split(' ').length);
    assert.ok(requests >= 2);
    await screenshot('pool');
});

test('no CSP violation and no script error on the way', async () => {
    await tab('accounts');
    await search('');
    await screenshot('accounts');
    // the README's picture: what a newcomer sees
    await page.screenshot({ path: join(ARTIFACTS, 'console.png') });
    const seen = await page.evaluate(() => window.__csp);
    assert.deepEqual(seen, []);
    assert.deepEqual(violations, []);
    assert.deepEqual(pageErrors, []);
    writeFileSync(join(ARTIFACTS, 'README.txt'),
                  'Screenshots of t/browser/console.test.mjs, in the order taken.\n');
});
