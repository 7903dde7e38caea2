// The admin API: the session token in sessionStorage, its expiry, and
// requests that end the session when the server refuses it.

const KEY = 'q2api.session';
const MAX_TIMER = 2 ** 31 - 1;

const meta = document.querySelector('meta[name="q2api-admin"]');
const base = new URL(meta ? meta.content : 'admin/', document.baseURI);

const listeners = [];
let timer;

export class ApiError extends Error {
    constructor(status, message, body) {
        super(message);
        this.status = status;
        this.body = body;
    }
}

export function url(path) {
    return new URL(path, base);
}

export function session() {
    let s;
    try {
        s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    } catch {
        s = null;
    }
    if (!s || typeof s.token !== 'string' || typeof s.expires !== 'number') {
        return null;
    }
    if (s.expires * 1000 <= Date.now()) {
        end('Session expired: log in again.');
        return null;
    }
    return s;
}

export function onSessionEnd(fn) {
    listeners.push(fn);
}

function end(reason) {
    sessionStorage.removeItem(KEY);
    clearTimeout(timer);
    for (const fn of listeners) {
        fn(reason);
    }
}

export function logout() {
    end('');
}

// ends the session when its token runs out, even with the tab idle
export function watchExpiry() {
    clearTimeout(timer);
    const s = session();
    if (!s) {
        return;
    }
    const ms = Math.min(s.expires * 1000 - Date.now(), MAX_TIMER);
    timer = setTimeout(() => {
        if (session()) {
            watchExpiry();
        }
    }, Math.max(ms, 0));
}

// what an error answer says: {"detail": "..."}, q2api's
// {"detail": {"error": ...}}, or a Claude error object
export function describe(body, status) {
    if (body && typeof body === 'object') {
        const d = body.detail;
        if (typeof d === 'string') {
            return d;
        }
        if (d && typeof d.error === 'string') {
            return d.error;
        }
        if (body.error && typeof body.error.message === 'string') {
            return body.error.message;
        }
        if (typeof body.error === 'string') {
            return body.error;
        }
        if (typeof body.message === 'string') {
            return body.message;
        }
    }
    return `HTTP ${status}`;
}

export async function login(password) {
    const res = await fetch(url('api/login'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ password }),
    });
    const body = await res.json().catch(() => null);
    if (res.status === 429) {
        const after = res.headers.get('Retry-After');
        throw new ApiError(429, 'Too many failed attempts: try again'
                           + (after ? ` in ${after} s.` : ' later.'), body);
    }
    if (!res.ok || !body || body.success !== true || !body.token) {
        throw new ApiError(res.status, body && body.success === false
                           ? 'Wrong password.' : describe(body, res.status),
                           body);
    }
    sessionStorage.setItem(KEY, JSON.stringify({ token: body.token,
                                                 expires: body.expires_at }));
    watchExpiry();
}

// a request with the session; the Response itself, for streams and files
export async function raw(method, path, body, signal) {
    const s = session();
    if (!s) {
        throw new ApiError(401, 'Not logged in.');
    }
    const headers = { Authorization: `Bearer ${s.token}` };
    if (body !== undefined && typeof body !== 'string') {
        body = JSON.stringify(body);
    }
    if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
    }
    const res = await fetch(url(path), { method, headers, body, signal });
    if (res.status === 401) {
        const b = await res.json().catch(() => null);
        end(/expired/i.test(describe(b, 401))
            ? 'Session expired: log in again.' : 'Logged out: log in again.');
        throw new ApiError(401, describe(b, 401), b);
    }
    return res;
}

// a JSON request; throws ApiError with the server's words on a refusal
export async function call(method, path, body) {
    const res = await raw(method, path, body);
    const b = await res.json().catch(() => null);
    if (!res.ok) {
        throw new ApiError(res.status, describe(b, res.status), b);
    }
    return b;
}
