// Errors as the SDKs see them: client-api.md §5 checks 14 (error classes),
// 15 (retries) and 16 (an error after the 200).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
    SDKS, SKIP, MODEL, client, mock, freshGateway, upstreamRequests, exceptionEvent,
    headEvents, textEvents, textResponse, errorResponse, rawPost, parseSse, shape,
    rejection,
} from './lib/harness.mjs';

const USER = [{ role: 'user', content: 'hi' }];

// What the gateway answers, before the first byte, for each failure.
const CASES = [
    { what: 'upstream 403 TEMPORARILY_SUSPENDED', script: errorResponse('suspended'),
      status: 503, type: 'api_error', upstream: 1 },
    { what: 'upstream 429 ThrottlingException', script: errorResponse('throttled'),
      status: 429, type: 'rate_limit_error', upstream: 1 },
    { what: 'upstream 400 "Input is too long"', script: errorResponse('too_long'),
      status: 400, type: 'invalid_request_error', upstream: 1, message: /prompt is too long/ },
    { what: 'upstream 500 InternalServerException', script: errorResponse('internal'),
      status: 529, type: 'overloaded_error', upstream: 1 },
    { what: 'an unreachable backend', prefix: '/down',
      status: 502, type: 'api_error', upstream: 0 },
    { what: 'an unknown model', model: 'claude-nope-9',
      status: 404, type: 'not_found_error', upstream: 0, message: /claude-nope-9/ },
    { what: 'a wrong key', apiKey: 'wrong-key',
      status: 401, type: 'authentication_error', upstream: 0 },
    { what: 'a body over client_max_body_size', prefix: '/small', big: true,
      status: 413, type: 'request_too_large', upstream: 0 },
];

for (const sdk of SDKS) {
    describe(sdk.label, { skip: SKIP }, () => {
        for (const k of CASES) {
            const cls = sdk.errorClass[k.status];
            test(`${k.what}: ${k.status} ${k.type} as ${cls}, with request_id (check 14)`, async () => {
                const c = client(sdk, { prefix: k.prefix, apiKey: k.apiKey });
                const content = k.big ? 'x'.repeat(4096) : 'hi';
                for (const stream of [false, true]) {
                    // a suspended or throttled account stays out of the pool
                    await freshGateway();
                    mock(k.script ?? textResponse('never'));
                    const err = await rejection(c.messages.create({
                        model: k.model ?? MODEL, max_tokens: 16, stream,
                        messages: [{ role: 'user', content }],
                    }));
                    const where = `stream: ${stream}`;
                    assert.ok(err instanceof sdk.mod.APIError, `${where}: ${err}`);
                    assert.equal(err.constructor.name, cls, where);
                    assert.equal(err.status, k.status, where);
                    assert.equal(err.error?.type, 'error', where);
                    assert.equal(err.error?.error?.type, k.type, where);
                    assert.equal(typeof err.error?.error?.message, 'string', where);
                    if (k.message) assert.match(err.error.error.message, k.message, where);
                    assert.match(err.error?.request_id ?? '', /^req_/, `${where}: request_id in the body`);
                    assert.equal(err.requestID, err.error.request_id, `${where}: request-id header`);
                    assert.equal(upstreamRequests().length, k.upstream, `${where}: upstream requests`);
                }
            });
        }

        test('429 then 200 succeeds with the default retries after retry-after; x-stainless-retry-count 1 (check 15)', async () => {
            await freshGateway();
            mock([errorResponse('throttled'), textResponse('after the retry')]);
            const c = client(sdk, { maxRetries: undefined });    // the SDK's default: 2
            const t0 = Date.now();
            const msg = await c.messages.create({ model: MODEL, max_tokens: 16, messages: USER });
            const secs = (Date.now() - t0) / 1000;
            assert.equal(msg.content[0].text, 'after the retry');
            assert.ok(c.sent.length >= 2, `retried (${c.sent.length} requests)`);
            c.sent.forEach((s, i) => assert.equal(s.headers['x-stainless-retry-count'], String(i)));
            // the account cools down meanwhile: only the first try and the
            // successful one reach Amazon Q
            assert.equal(upstreamRequests().length, 2);
            assert.ok(secs >= 0.9, `the SDK waited for retry-after (${secs} s)`);
        });

        test('a 400 and a 404 are not retried (check 15)', async () => {
            await freshGateway();
            const c = client(sdk, { maxRetries: undefined });    // the SDK's default: 2
            mock(errorResponse('too_long'));
            let err = await rejection(c.messages.create({ model: MODEL, max_tokens: 16, messages: USER }));
            assert.equal(err.status, 400);
            err = await rejection(c.messages.create({ model: 'claude-nope-9', max_tokens: 16, messages: USER }));
            assert.equal(err.status, 404);
            assert.equal(c.sent.length, 2, 'one request each');
            assert.equal(upstreamRequests().length, 1);
        });

        test('an error event after the 200 raises an APIError of type overloaded_error (check 16)', async () => {
            const script = {
                status: 200,
                events: [...headEvents(), ...textEvents('partial'), { sleep_ms: 300 },
                         exceptionEvent('InternalServerException', { message: 'boom' }),
                         ...textEvents('never')],
            };
            const c = client(sdk);

            await freshGateway();
            mock(script);
            const stream = await c.messages.create({ model: MODEL, max_tokens: 16, messages: USER, stream: true });
            const seen = [];
            const err = await rejection((async () => {
                for await (const e of stream) seen.push(e);
            })());
            assert.deepEqual(shape(seen), ['message_start', 'content_block_start:0', 'content_block_delta:0']);
            assert.equal(seen[2].delta.text, 'partial');
            assert.ok(err instanceof sdk.mod.APIError, `not an APIError: ${err}`);
            assert.equal(err.status, undefined);
            assert.equal(err.type, 'overloaded_error');
            assert.equal(err.error?.error?.type, 'overloaded_error');
            assert.match(err.error?.error?.message, /boom/);

            mock(script);
            const err2 = await rejection(
                c.messages.stream({ model: MODEL, max_tokens: 16, messages: USER }).finalMessage());
            assert.ok(err2 instanceof sdk.mod.APIError, `finalMessage: not an APIError: ${err2}`);
            assert.equal(err2.error?.error?.type, 'overloaded_error');
        });
    });
}

describe('wire', { skip: SKIP }, () => {
    test('the error after the 200 is "event: error" with overloaded_error, and nothing after it', async () => {
        await freshGateway();
        mock({
            status: 200,
            events: [...headEvents(), ...textEvents('partial'), { sleep_ms: 300 },
                     exceptionEvent('InternalServerException', { message: 'boom' }),
                     ...textEvents('never')],
        });
        const res = await rawPost('/v1/messages', { model: MODEL, max_tokens: 16, stream: true, messages: USER });
        assert.equal(res.status, 200);
        const { events, problems } = parseSse(await res.text());
        assert.deepEqual(problems, []);
        const names = events.map((e) => e.name).filter((n) => n !== 'ping');
        assert.deepEqual(names, ['message_start', 'content_block_start', 'content_block_delta', 'error']);
        const last = events.at(-1).data;
        assert.equal(last.type, 'error');
        assert.equal(last.error.type, 'overloaded_error');
    });

    test('4xx errors say x-should-retry: false, 429/5xx carry retry-after', async () => {
        await freshGateway();
        mock(errorResponse('too_long'));
        let res = await rawPost('/v1/messages', { model: MODEL, max_tokens: 16, messages: USER });
        assert.equal(res.status, 400);
        assert.equal(res.headers.get('x-should-retry'), 'false');
        assert.match(res.headers.get('content-type'), /^application\/json/);
        mock(errorResponse('internal'));
        res = await rawPost('/v1/messages', { model: MODEL, max_tokens: 16, stream: true, messages: USER });
        assert.equal(res.status, 529);
        assert.notEqual(res.headers.get('x-should-retry'), 'false');
        assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
        assert.match(res.headers.get('content-type'), /^application\/json/, 'a JSON error, not a stream');
    });
});
