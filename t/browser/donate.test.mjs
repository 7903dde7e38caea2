// The public donate page (html/donate.html) in headless Chromium: run by
// t/browser/console.t with the same nginx, whose /donate/api/ location
// includes conf/q2api_donate.conf.  Google itself is never reached: the
// browser's requests to accounts.google.com are answered here, and what a
// person would copy from the address bar is built from the URL the page
// opened.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { googleLogins, requestsTo } from './mock.mjs';

const URL_ = process.env.CONSOLE_URL;
const ARTIFACTS = process.env.ARTIFACTS;
const DONATE = new URL('donate.html', URL_).href;

let browser;
let context;
let page;
const pageErrors = [];
const violations = [];
const google = [];

async function screenshot(name) {
    await page.screenshot({ path: join(ARTIFACTS, `donate-${name}.png`), fullPage: true });
}

before(async () => {
    browser = await chromium.launch({
        executablePath: process.env.CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    await context.addInitScript(() => {
        window.__csp = [];
        document.addEventListener('securitypolicyviolation', (e) => {
            window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
        });
    });
    // Google's login page, as far as this test is concerned
    await context.route('https://accounts.google.com/**', (route) => {
        google.push(route.request().url());
        route.fulfill({ status: 200, contentType: 'text/html',
                        body: '<title>Sign in - Google Accounts</title>' });
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

// opens Google's page from the donate page; the URL it opened
async function startLogin(flavour) {
    if (flavour) {
        await page.selectOption('#donate-flavour', flavour);
    }
    const popup = page.waitForEvent('popup');
    await page.click('#donate-start');
    const p = await popup;
    await p.waitForLoadState();
    const url = new URL(p.url());
    await p.close();
    return url;
}

test('the warning comes before the button, which waits for the donor to agree', async () => {
    const res = await page.goto(DONATE);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-security-policy'], /script-src 'self'/);
    assert.equal(res.headers()['x-frame-options'], 'DENY');
    const warning = await page.textContent('#donate-warning');
    assert.match(warning, /breach of its terms/);
    assert.match(warning, /may suspend the account/);
    // the warning is above the button on the page
    const w = await page.locator('#donate-warning').boundingBox();
    const b = await page.locator('#donate-start').boundingBox();
    assert.ok(w.y < b.y);
    assert.equal(await page.isDisabled('#donate-start'), true);
    assert.equal(await page.isDisabled('#donate-paste'), true);
    await page.waitForFunction(() => /0 accounts, 0 active/.test(
        document.getElementById('pool-counts').textContent));
    // the flavours this server offers, its default first
    assert.deepEqual(await page.$$eval('#donate-flavour option', (o) => o.map((x) => x.value)),
                     ['antigravity', 'gemini-cli']);
    await screenshot('start');
    await page.check('#donate-agree');
    assert.equal(await page.isDisabled('#donate-start'), false);
});

test("the button opens Google's authorisation with PKCE and a state", async () => {
    const url = await startLogin('antigravity');
    assert.equal(url.origin + url.pathname, 'https://accounts.google.com/o/oauth2/v2/auth');
    const q = url.searchParams;
    assert.equal(q.get('client_id'),
                 '1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com');
    assert.equal(q.get('redirect_uri'), 'http://localhost:51121/oauth-callback');
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.match(q.get('state'), /^\d+\.1\.[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/);
    assert.equal(q.get('prompt'), 'consent');
    assert.equal(await page.textContent('#donate-redirect'), 'http://localhost:51121/oauth-callback');
    assert.equal(await page.isDisabled('#donate-paste'), false);

    const cli = await startLogin('gemini-cli');
    assert.equal(cli.searchParams.get('client_id'),
                 '681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com');
    assert.match(cli.searchParams.get('state'), /^\d+\.0\./);
});

test('an address that is not the answer to this login is refused in plain words', async () => {
    const forged = 'http://localhost:51121/oauth-callback?state=1999999999.1.'
        + `${'ab'.repeat(16)}.${'A'.repeat(43)}&code=4/forged`;
    await page.fill('#donate-paste', forged);
    await page.click('#donate-send');
    await page.waitForFunction(() => /not the answer to a login this page began/.test(
        document.getElementById('donate-result').textContent));
    assert.equal(await page.getAttribute('#donate-result', 'class'), 'error');

    await page.fill('#donate-paste', 'http://localhost:51121/oauth-callback?error=access_denied&state=x');
    await page.click('#donate-send');
    await page.waitForFunction(() => /Google did not grant access \(access_denied\)/.test(
        document.getElementById('donate-result').textContent));
    await screenshot('refused');
});

// what the donor copies from the address bar after Google, for a URL the
// page opened
function pasted(url, code) {
    const u = new URL(url.searchParams.get('redirect_uri'));
    u.searchParams.set('state', url.searchParams.get('state'));
    u.searchParams.set('code', code);
    u.searchParams.set('scope', 'email openid');
    return u.href;
}

test('a donation through the mock: the account joins, the pool shows it masked', async () => {
    googleLogins([
        { access: 'ya29.d1', refresh: '1//0d1', sub: '700000001', email: 'donor@example.com' },
        { access: 'ya29.d2', refresh: '1//0d2', sub: '700000001', email: 'donor@example.com' },
    ]);
    const before = requestsTo('/oauth2/token').length;
    const url = await startLogin('antigravity');
    await page.fill('#donate-paste', pasted(url, '4/0AQlEd8x-donated'));
    await page.click('#donate-send');
    await page.waitForFunction(() => /joined the pool/.test(
        document.getElementById('donate-result').textContent), null, { timeout: 20000 });
    assert.equal(await page.textContent('#donate-result'),
                 'Thank you: account don\u2026 joined the pool.');
    const ex = requestsTo('/oauth2/token').slice(before);
    assert.equal(ex.length, 1);
    const form = new URLSearchParams(ex[0].body);
    assert.equal(form.get('code'), '4/0AQlEd8x-donated');
    assert.equal(form.get('redirect_uri'), 'http://localhost:51121/oauth-callback');
    // the verifier the server kept (derived from its state) fits the
    // challenge the page sent the donor to Google with
    const digest = createHash('sha256').update(form.get('code_verifier')).digest('base64url');
    assert.equal(digest, url.searchParams.get('code_challenge'));

    // the pool, refreshed after the donation: one account, masked
    await page.waitForFunction(() => /^1 account, 1 active$/.test(
        document.getElementById('pool-counts').textContent));
    const row = page.locator('#pool-recent tbody tr').first();
    assert.equal(await row.locator('td').nth(0).textContent(), 'don\u2026');
    assert.equal(await row.locator('td').nth(1).textContent(), 'flue\u2026c3');
    assert.doesNotMatch(await page.textContent('body'), /donor@|fluent-cosmos|ya29|1\/\/0/);
    await screenshot('donated');
});

test('the same Google account donated again is the same account, its login renewed', async () => {
    const url = await startLogin('antigravity');
    await page.fill('#donate-paste', pasted(url, '4/0AQlEd8x-again'));
    await page.click('#donate-send');
    await page.waitForFunction(() => /was here already/.test(
        document.getElementById('donate-result').textContent), null, { timeout: 20000 });
    assert.match(await page.textContent('#donate-result'), /its login is renewed/);
    await page.waitForFunction(() => /^1 account, 1 active$/.test(
        document.getElementById('pool-counts').textContent));
    // one account in the pool for the two donations, named by the subject
    const res = await fetch(new URL('admin/v2/accounts?type=gemini', URL_), {
        headers: { Authorization: `Bearer ${process.env.ADMIN_PASSWORD}` } });
    const body = await res.json();
    assert.equal(body.count, 1);
    assert.equal(body.accounts[0].id, 'gemini-700000001');
    assert.equal(body.accounts[0].label, 'donor@example.com');
    await screenshot('donated-again');
});

test('quota per model group with its reset counting down', async () => {
    // the quota as the back end's reads keep it (amq2api's creditsInfo)
    const reset = new Date(Date.now() + 2 * 3600 * 1000 + 90 * 1000).toISOString();
    const res = await fetch(new URL('admin/v2/accounts/gemini-700000001', URL_), {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${process.env.ADMIN_PASSWORD}`,
                   'Content-Type': 'application/json' },
        body: JSON.stringify({ other: { flavour: 'antigravity', project: 'fluent-cosmos-a1b2c3',
            creditsInfo: { models: {
                'gemini-3-pro-high': { remainingFraction: 0.42, resetTime: reset },
                'claude-sonnet-4-5': { remainingFraction: 0.9, resetTime: reset } } } } }),
    });
    assert.equal(res.status, 200);
    // the status is made at most every 5 s per worker: read until it shows
    for (let i = 0; i < 40; i++) {
        await page.reload();
        await page.waitForSelector('#pool-groups tbody tr');
        if (/Gemini/.test(await page.textContent('#pool-groups tbody'))) {
            break;
        }
        await new Promise((r) => setTimeout(r, 500));
    }
    const rows = page.locator('#pool-groups tbody tr');
    assert.equal(await rows.count(), 2);
    assert.equal(await rows.nth(0).locator('td').nth(0).textContent(), 'Gemini');
    assert.equal(await rows.nth(0).locator('td').nth(2).textContent(), '42 %');
    assert.equal(await rows.nth(1).locator('td').nth(0).textContent(), 'Claude and GPT');
    const cd = rows.nth(0).locator('.countdown');
    const first = await cd.textContent();
    assert.match(first, /^2 h 0[01] min$/);
    assert.match(await page.textContent('#pool-recent tbody'), /Gemini: 42 %, reset in 2 h 0[01] min/);
    await screenshot('quota');
});

test('no CSP violation and no script error on the donate page', async () => {
    assert.deepEqual(await page.evaluate(() => window.__csp), []);
    assert.deepEqual(violations, []);
    assert.deepEqual(pageErrors, []);
});
