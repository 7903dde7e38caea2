// Shared helpers of the end-to-end suite (t/e2e/*.test.mjs).
//
// t/e2e-clients.t starts the Amazon Q mock and a real nginx with the module,
// then runs each test file with:
//
//   GATEWAY_URL     http://127.0.0.1:PORT  (the gateway; locations /v1/,
//                   /cc/v1/ (q2api_default_model), /small/v1/
//                   (client_max_body_size 1k), /down/v1/ (backend on a
//                   closed port))
//   GATEWAY_KEY     the key in q2api_api_key
//   MOCK_STATE_DIR  the mock's state directory (see t/mock/lib/Q2api/Mock.pm):
//                   script.json, counters.json, seq, requests/NNNNNNNN.json
//   GATEWAY_CONTROL_DIR  where freshGateway() asks t/e2e-clients.t for a new
//                   nginx with a pristine account pool
//
// The mock re-reads script.json on every request, so the tests script it by
// rewriting files, the way Q2api::Mock's set_script/reset do.  Those take the
// mock's flock; node cannot, so the files are only rewritten while no request
// is in flight (every test awaits its requests), and always atomically
// (temporary file + rename), so the mock never reads half a file.

import fs from 'node:fs';
import path from 'node:path';

import * as sdk0 from 'anthropic-sdk-0';
import * as sdk1 from 'anthropic-sdk-1';

export const GATEWAY_URL = (process.env.GATEWAY_URL || '').replace(/\/+$/, '');
export const GATEWAY_KEY = process.env.GATEWAY_KEY || '';
export const MOCK_STATE_DIR = process.env.MOCK_STATE_DIR || '';
const CONTROL_DIR = process.env.GATEWAY_CONTROL_DIR || '';

// Passed as the "skip" option of the top-level describe() of every file.
export const SKIP = GATEWAY_URL && GATEWAY_KEY && MOCK_STATE_DIR && CONTROL_DIR
    ? false
    : 'GATEWAY_URL, GATEWAY_KEY, MOCK_STATE_DIR and GATEWAY_CONTROL_DIR are not set: run t/e2e-clients.t';

// Not claude-sonnet-4-5: the SDKs print a deprecation warning for it.
export const MODEL = 'claude-sonnet-4-6';
export const UPSTREAM_MODEL = 'claude-sonnet-4.6';

// --------------------------------------------------------------------------
// The two SDK generations
// --------------------------------------------------------------------------

function pkgVersion(name) {
    // not require(): the packages' "exports" do not list package.json
    const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

export const SDKS = [
    {
        label: `sdk0 (@anthropic-ai/sdk ${pkgVersion('anthropic-sdk-0')})`,
        mod: sdk0,
        Anthropic: sdk0.default,
        apiVersion: '2023-06-01',
        auth: 'x-api-key',
        betaQuery: true,    // client.beta.* adds ?beta=true
        // status -> the error class the SDK raises
        errorClass: {
            400: 'BadRequestError', 401: 'AuthenticationError',
            404: 'NotFoundError', 413: 'APIError', 429: 'RateLimitError',
            502: 'InternalServerError', 503: 'InternalServerError',
            529: 'InternalServerError',
        },
    },
    {
        label: `sdk1 (@anthropic-ai/sdk ${pkgVersion('anthropic-sdk-1')})`,
        mod: sdk1,
        Anthropic: sdk1.default,
        apiVersion: '2026-10-21',
        auth: 'bearer',
        betaQuery: false,
        errorClass: {
            400: 'BadRequestError', 401: 'AuthenticationError',
            404: 'NotFoundError', 413: 'ContentTooLargeError',
            429: 'RateLimitError', 502: 'InternalServerError',
            503: 'ServiceUnavailableError', 529: 'OverloadedError',
        },
    },
];

// A client of the gateway that also records what the SDK put on the wire:
// client.sent = [{url, method, headers: {lowercase: value}, body}].
// opts: prefix ('' | '/cc' | '/small' | '/down'), maxRetries (default 0;
// pass undefined in the object to keep the SDK's own default), apiKey.
export function client(sdk, opts = {}) {
    const sent = [];
    const recordingFetch = async (url, init = {}) => {
        const headers = {};
        new Headers(init.headers || {}).forEach((v, k) => { headers[k] = v; });
        sent.push({
            url: String(url), method: init.method || 'GET', headers,
            body: typeof init.body === 'string' ? init.body : undefined,
        });
        return fetch(url, init);
    };
    const options = {
        apiKey: opts.apiKey ?? GATEWAY_KEY,
        baseURL: GATEWAY_URL + (opts.prefix || ''),
        fetch: recordingFetch,
        timeout: opts.timeout ?? 60_000,
    };
    if (!('maxRetries' in opts)) {
        options.maxRetries = 0;
    } else if (opts.maxRetries !== undefined) {
        options.maxRetries = opts.maxRetries;
    }
    const c = new sdk.Anthropic(options);
    c.sent = sent;
    return c;
}

// --------------------------------------------------------------------------
// Mock control (mirrors Q2api::Mock set_script / reset / requests)
// --------------------------------------------------------------------------

function spew(file, data) {
    const tmp = `${file}.tmp.${process.pid}`;
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
}

function recordDir() {
    return path.join(MOCK_STATE_DIR, 'requests');
}

// script: {responses: [...]} (and/or by_token, by_path), [RESPONSE, ...] or
// one RESPONSE.  Restarts the response sequences, like set_script.
export function setScript(script) {
    if (Array.isArray(script)) {
        script = { responses: script };
    } else if (!['responses', 'by_token', 'by_path'].some((k) => k in script)) {
        script = { responses: [script] };
    }
    spew(path.join(MOCK_STATE_DIR, 'script.json'), JSON.stringify(script, null, 2));
    spew(path.join(MOCK_STATE_DIR, 'counters.json'), '{}');
}

// Forgets the recorded requests and restarts every response sequence.
export function resetMock() {
    const dir = recordDir();
    for (const f of fs.readdirSync(dir)) {
        if (f.endsWith('.json')) {
            fs.rmSync(path.join(dir, f), { force: true });
        }
    }
    spew(path.join(MOCK_STATE_DIR, 'seq'), '0\n');
    spew(path.join(MOCK_STATE_DIR, 'counters.json'), '{}');
}

// reset + set_script: what every test does first.
export function mock(script) {
    resetMock();
    setScript(script);
}

// The recorded upstream requests, in order; json = the parsed body.
export function upstreamRequests() {
    const dir = recordDir();
    const out = [];
    for (const f of fs.readdirSync(dir).filter((f) => /^\d+\.json$/.test(f)).sort()) {
        let rec;
        try {
            rec = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
        } catch {
            continue;
        }
        if ('body_base64' in rec) {
            rec.body = Buffer.from(rec.body_base64, 'base64').toString('latin1');
            delete rec.body_base64;
        }
        try {
            rec.json = JSON.parse(rec.body);
        } catch {
            // not JSON
        }
        out.push(rec);
    }
    return out.sort((a, b) => a.seq - b.seq);
}

// The Amazon Q userInputMessage of an upstream request.
export function userInput(rec) {
    return rec?.json?.conversationState?.currentMessage?.userInputMessage;
}

// --------------------------------------------------------------------------
// Gateway control
// --------------------------------------------------------------------------

let restarts = 0;

// Restarts nginx on a new accounts.json: the pool remembers what happened
// to its one account (a suspension takes it out for good, throttling cools
// it down), so a test that provokes that starts from a fresh gateway.
// Every test file starts with one.
export async function freshGateway() {
    if (!CONTROL_DIR) throw new Error('GATEWAY_CONTROL_DIR is not set');
    const req = path.join(CONTROL_DIR, `restart-${process.pid}-${++restarts}`);
    fs.writeFileSync(req, '');
    const deadline = Date.now() + 30_000;
    while (fs.existsSync(req)) {
        if (Date.now() > deadline) throw new Error('the gateway was not restarted within 30 s');
        await new Promise((r) => setTimeout(r, 20));
    }
    if (fs.existsSync(`${req}.failed`)) {
        throw new Error(`gateway restart failed: ${fs.readFileSync(`${req}.failed`, 'utf8')}`);
    }
}

// --------------------------------------------------------------------------
// Script builders: the JSON twins of Q2api::Mock::AmazonQ's Perl builders
// --------------------------------------------------------------------------

const CONVERSATION_ID = 'c0ffee00-0000-4000-8000-00000000c0de';
const UTTERANCE_ID = 'c0ffee00-0000-4000-8000-0000000000a1';
const RESPONSE_KEYS = ['status', 'headers', 'split', 'drip_ms', 'close', 'delay_ms'];

export function event(name, payload = {}, extra = {}) {
    return { event: name, payload, ...extra };
}

export function exceptionEvent(type, payload = '') {
    return { exception: type, payload };
}

export function errorResponse(kind, overrides = {}) {
    return { error: kind, ...overrides };
}

function response(opt, events) {
    const r = { status: 200, events };
    for (const k of RESPONSE_KEYS) {
        if (k in opt) r[k] = opt[k];
    }
    return r;
}

export function headEvents(opt = {}) {
    return [event('messageMetadataEvent', {
        conversationId: opt.conversation_id ?? CONVERSATION_ID,
        utteranceId: opt.utterance_id ?? UTTERANCE_ID,
    })];
}

export function textEvents(...chunks) {
    return chunks.map((c) => event('assistantResponseEvent', { content: c }));
}

export function tailEvents(outputTokens, opt = {}) {
    const input = 11;
    return [
        event('contextUsageEvent', { contextUsagePercentage: 2.336 }),
        event('meteringEvent', { unit: 'credit', unitPlural: 'credits', usage: 0.0453 }),
        event('metadataEvent', {
            tokenUsage: opt.token_usage ?? {
                uncachedInputTokens: input,
                outputTokens,
                totalTokens: input + outputTokens,
                cacheReadInputTokens: 0,
                cacheWriteInputTokens: 0,
            },
        }),
    ];
}

// textResponse('Hel', 'lo') or textResponse({split: 'byte'}, 'Hel', 'lo')
export function textResponse(...args) {
    const opt = args.length && typeof args[0] === 'object' ? args.shift() : {};
    const chunks = args.length ? args : ['Hello from mock'];
    return response(opt, [...headEvents(opt), ...textEvents(...chunks),
                          ...tailEvents(chunks.length, opt)]);
}

export function toolEvents(tool) {
    const base = { toolUseId: tool.id ?? 'tooluse_mock0001', name: tool.name ?? 'get_weather' };
    const ev = [event('toolUseEvent', { ...base })];
    if ('input' in tool) {
        ev.push(event('toolUseEvent', { ...base, input: tool.input }));
    } else {
        for (const f of tool.fragments ?? ['{"city": "Ber', 'lin"}']) {
            ev.push(event('toolUseEvent', { ...base, input: f }));
        }
    }
    if (tool.stop ?? true) {
        ev.push(event('toolUseEvent', { ...base, stop: true }));
    }
    return ev;
}

// toolResponse({text: [...], tools: [{id, name, fragments | input}]}) or
// toolResponse({id, name, fragments | input, text})
export function toolResponse(opt = {}) {
    const tools = opt.tools ?? [opt];
    const text = opt.text ?? [];
    return response(opt, [
        ...headEvents(opt), ...textEvents(...text),
        ...tools.flatMap(toolEvents),
        ...tailEvents(text.length + 5 * tools.length, opt),
    ]);
}

// --------------------------------------------------------------------------
// Raw HTTP and SSE
// --------------------------------------------------------------------------

// headers: added to (or, with a null value, removed from) the defaults.
export async function rawPost(urlPath, body, headers = {}) {
    const h = {
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
        'x-api-key': GATEWAY_KEY,
        ...headers,
    };
    for (const k of Object.keys(h)) {
        if (h[k] === null) delete h[k];
    }
    return fetch(GATEWAY_URL + urlPath, {
        method: 'POST',
        headers: h,
        body: typeof body === 'string' ? body : JSON.stringify(body),
    });
}

// Splits an SSE body into events, checking the framing rules of
// client-api.md §4 on the way; returns {events: [{name, data, raw}],
// problems: [strings]}.
export function parseSse(text) {
    const problems = [];
    const events = [];
    if (text.includes('\r')) problems.push('CR in the stream');
    if (text.length && !text.endsWith('\n\n')) problems.push('stream does not end with a blank line');
    for (const raw of text.split('\n\n')) {
        if (raw === '') continue;
        const lines = raw.split('\n');
        const names = lines.filter((l) => l.startsWith('event:'));
        const datas = lines.filter((l) => l.startsWith('data:'));
        const other = lines.filter((l) => !l.startsWith('event:') && !l.startsWith('data:')
                                          && !l.startsWith(':'));
        if (lines.every((l) => l.startsWith(':'))) continue;    // comment
        if (names.length !== 1) problems.push(`event without exactly one event: line: ${JSON.stringify(raw)}`);
        if (datas.length !== 1) problems.push(`event without exactly one data: line: ${JSON.stringify(raw)}`);
        if (other.length) problems.push(`unexpected lines: ${JSON.stringify(other)}`);
        const name = names[0]?.replace(/^event: ?/, '');
        let data;
        try {
            data = JSON.parse(datas[0]?.replace(/^data: ?/, ''));
        } catch {
            problems.push(`data is not JSON: ${JSON.stringify(datas[0])}`);
        }
        if (data && data.type !== name) problems.push(`event: ${name} carries type ${data?.type}`);
        events.push({ name, data, raw });
    }
    return { events, problems };
}

// The event types of an SDK event list, with content_block_* suffixed by
// their index: ['message_start', 'content_block_start:0', ...].
export function shape(events) {
    return events.map((e) => (e.type.startsWith('content_block_') ? `${e.type}:${e.index}` : e.type));
}

export async function collect(iterable) {
    const out = [];
    for await (const x of iterable) out.push(x);
    return out;
}

// The thrown error of a promise (fails if it resolves).
export async function rejection(promise) {
    try {
        await promise;
    } catch (e) {
        return e;
    }
    throw new Error('expected the call to fail, but it succeeded');
}
