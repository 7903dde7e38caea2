// What the browser suites change in the mock while it runs: the answers of
// Google's token endpoint (/oauth2/token in t/browser/console.t), written
// into the mock's script, which it reads again on every request, with the
// sequence started over.  Run between requests, never during one.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

// an unsigned id token, as Google's would read: the gateway reads, never
// verifies it
export function idToken(sub, email) {
    return [b64url({ alg: 'RS256', typ: 'JWT' }),
            b64url({ iss: 'https://accounts.google.com', sub, email,
                     exp: Math.floor(Date.now() / 1000) + 3600 }),
            'c2lnbmF0dXJl'].join('.');
}

// logins: [{access, refresh, sub, email}], one answer per code exchanged
export function googleLogins(logins) {
    const dir = process.env.MOCK_STATE_DIR;
    const script = JSON.parse(readFileSync(join(dir, 'script.json'), 'utf8'));
    script.by_path['/oauth2/token'] = logins.map((l) => ({ json: {
        access_token: l.access, refresh_token: l.refresh, expires_in: 3599,
        token_type: 'Bearer', id_token: idToken(l.sub, l.email),
        scope: 'openid https://www.googleapis.com/auth/cloud-platform' } }));
    writeFileSync(join(dir, 'script.json'), JSON.stringify(script));
    let counters = {};
    try {
        counters = JSON.parse(readFileSync(join(dir, 'counters.json'), 'utf8'));
    } catch {
        // no sequence consumed yet
    }
    delete counters['path:/oauth2/token'];
    writeFileSync(join(dir, 'counters.json'), JSON.stringify(counters));
}

// the requests the mock saw at a path, oldest first
export function requestsTo(path) {
    const dir = join(process.env.MOCK_STATE_DIR, 'requests');
    return readdirSorted(dir)
        .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
        .filter((r) => r.path === path);
}

function readdirSorted(dir) {
    return readdirSync(dir).filter((f) => /^\d+\.json$/.test(f)).sort();
}
