// The official openai npm package against /v1/chat/completions: the
// non-streaming answer, a stream whose accumulated result equals it, tool
// calls and a tool-result round trip, include_usage, reasoning_content,
// every error class as the SDK's own exception, an error after the 200, a
// 429 retried after retry-after, and models.list() (client-api.md §5,
// checks 27-35).

import fs from 'node:fs';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI from 'openai';

import {
    SKIP, MODEL, GATEWAY_URL, GATEWAY_KEY, mock, freshGateway, upstreamRequests,
    userInput, headEvents, textEvents, tailEvents, textResponse, toolResponse,
    errorResponse, exceptionEvent, event, rejection, collect,
} from './lib/harness.mjs';

const VERSION = JSON.parse(fs.readFileSync(
    new URL('./node_modules/openai/package.json', import.meta.url), 'utf8')).version;

const USER = [{ role: 'user', content: 'hi' }];

// A client of the gateway; sent records what the SDK put on the wire.
function client(opts = {}) {
    const sent = [];
    const c = new OpenAI({
        apiKey: opts.apiKey ?? GATEWAY_KEY,
        baseURL: GATEWAY_URL + (opts.prefix || '') + '/v1',
        maxRetries: 'maxRetries' in opts ? opts.maxRetries : 0,
        timeout: 60_000,
        defaultHeaders: opts.headers,
        fetch: async (url, init = {}) => {
            const headers = {};
            new Headers(init.headers || {}).forEach((v, k) => { headers[k] = v; });
            sent.push({ url: String(url), headers, body: init.body });
            return fetch(url, init);
        },
    });
    c.sent = sent;
    return c;
}

// The same script for two requests (one non-streamed, one streamed).
function twice(script) {
    mock([script, structuredClone(script)]);
}

const WEATHER = {
    type: 'function',
    function: {
        name: 'get_weather',
        description: 'The weather of a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
};

describe(`openai ${VERSION}`, { skip: SKIP }, () => {
    test('non-streaming: a chat.completion with usage (check 27)', async () => {
        await freshGateway();
        mock(textResponse('Hel', 'lo!'));
        const c = client();
        const r = await c.chat.completions.create({ model: MODEL, messages: USER });
        assert.equal(r.object, 'chat.completion');
        assert.match(r.id, /^chatcmpl-[0-9a-f]{24}$/);
        assert.equal(r.model, MODEL);
        assert.equal(typeof r.created, 'number');
        assert.equal(r.choices.length, 1);
        assert.equal(r.choices[0].message.role, 'assistant');
        assert.equal(r.choices[0].message.content, 'Hello!');
        assert.equal(r.choices[0].finish_reason, 'stop');
        assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
        assert.equal(typeof r.usage.prompt_tokens_details.cached_tokens, 'number');
        assert.equal(typeof r.usage.completion_tokens_details.reasoning_tokens, 'number');
        assert.match(r._request_id ?? '', /^req_/, 'x-request-id reaches the SDK');
        assert.equal(c.sent[0].headers.authorization, `Bearer ${GATEWAY_KEY}`);
        assert.equal(userInput(upstreamRequests()[0]).content.endsWith('hi\n--- USER MESSAGE END ---'), true);
    });

    test('streaming: finalChatCompletion() equals the non-streamed answer (check 28)', async () => {
        await freshGateway();
        const script = toolResponse({
            text: ['Let me ', 'check.'],
            tools: [{ id: 'call_weather_1', name: 'get_weather', fragments: ['{"ci', 'ty": "M\u00fcn', 'chen"}'] }],
        });
        twice(script);
        const c = client();
        const params = { model: MODEL, messages: USER, tools: [WEATHER] };
        const plain = await c.chat.completions.create(params);
        const final = await c.chat.completions.stream(params).finalChatCompletion();
        const strip = (m) => JSON.parse(JSON.stringify({ ...m, parsed: undefined }));
        assert.deepEqual(strip(final.choices[0].message), strip(plain.choices[0].message));
        assert.equal(final.choices[0].finish_reason, plain.choices[0].finish_reason);
        assert.equal(final.model, plain.model);
        assert.equal(plain.choices[0].message.content, 'Let me check.');
    });

    test('tool calls: arguments in three pieces parse, two parallel calls, ids unchanged (check 29)', async () => {
        await freshGateway();
        twice(toolResponse({
            tools: [
                { id: 'tooluse_Paris', name: 'get_weather', fragments: ['{"city"', ': "Pa', 'ris"}'] },
                { id: 'tooluse_Rome', name: 'get_weather', fragments: ['{"city": ', '"Rom', 'e"}'] },
            ],
        }));
        const c = client();
        const params = { model: MODEL, messages: USER, tools: [WEATHER], tool_choice: 'required' };
        for (const r of [await c.chat.completions.create(params),
                         await c.chat.completions.stream(params).finalChatCompletion()]) {
            const calls = r.choices[0].message.tool_calls;
            assert.equal(r.choices[0].finish_reason, 'tool_calls');
            assert.deepEqual(calls.map((t) => t.id), ['tooluse_Paris', 'tooluse_Rome']);
            assert.deepEqual(calls.map((t) => JSON.parse(t.function.arguments)),
                             [{ city: 'Paris' }, { city: 'Rome' }]);
            assert.ok(calls.every((t) => t.type === 'function' && t.function.name === 'get_weather'));
        }
        assert.match(userInput(upstreamRequests()[0]).content, /You must answer by calling one of the available tools\.$/);
    });

    test('a tool-result round trip: the ids reach the backend unchanged', async () => {
        await freshGateway();
        mock([toolResponse({ id: 'tooluse_42', name: 'get_weather', fragments: ['{"city": "Oslo"}'] }),
              textResponse('It is sunny in Oslo.')]);
        const c = client();
        const messages = [{ role: 'user', content: 'Weather in Oslo?' }];
        const first = await c.chat.completions.create({ model: MODEL, messages, tools: [WEATHER] });
        const msg = first.choices[0].message;
        messages.push(msg);
        for (const call of msg.tool_calls) {
            messages.push({ role: 'tool', tool_call_id: call.id, content: 'sunny' });
        }
        const second = await c.chat.completions.create({ model: MODEL, messages, tools: [WEATHER] });
        assert.equal(second.choices[0].message.content, 'It is sunny in Oslo.');
        const up = upstreamRequests()[1].json.conversationState;
        assert.deepEqual(up.history[1].assistantResponseMessage.toolUses,
                         [{ toolUseId: 'tooluse_42', name: 'get_weather', input: { city: 'Oslo' } }]);
        assert.deepEqual(userInput(upstreamRequests()[1]).userInputMessageContext.toolResults,
                         [{ toolUseId: 'tooluse_42', content: [{ text: 'sunny' }], status: 'success' }]);
    });

    test('include_usage: one usage chunk with choices [], last; none without it (check 30)', async () => {
        await freshGateway();
        twice(textResponse('a', 'b'));
        const c = client();
        const chunks = await collect(await c.chat.completions.create({
            model: MODEL, messages: USER, stream: true, stream_options: { include_usage: true },
        }));
        const usage = chunks.filter((k) => k.usage);
        assert.equal(usage.length, 1);
        assert.deepEqual(chunks.at(-1).choices, []);
        assert.equal(chunks.at(-1), usage[0]);
        assert.equal(usage[0].usage.total_tokens, usage[0].usage.prompt_tokens + usage[0].usage.completion_tokens);
        assert.ok(chunks.slice(0, -1).every((k) => k.usage === null));
        assert.equal(chunks[0].choices[0].delta.role, 'assistant');
        assert.ok(chunks.slice(1).every((k) => !k.choices[0] || !('role' in k.choices[0].delta)));

        const plain = await collect(await c.chat.completions.create({ model: MODEL, messages: USER, stream: true }));
        assert.ok(plain.every((k) => !('usage' in k)), 'no usage at all without the option');
    });

    test('thinking arrives as reasoning_content, streamed and not', async () => {
        await freshGateway();
        twice(textResponse('<thinking>Two is ', 'less.</thinking>', 'Yes.'));
        const c = client();
        const params = { model: MODEL, messages: USER, reasoning_effort: 'low' };
        const plain = await c.chat.completions.create(params);
        assert.equal(plain.choices[0].message.reasoning_content, 'Two is less.');
        assert.equal(plain.choices[0].message.content, 'Yes.');
        assert.ok(plain.usage.completion_tokens_details.reasoning_tokens > 0);
        const chunks = await collect(await c.chat.completions.create({ ...params, stream: true }));
        const reasoning = chunks.map((k) => k.choices[0]?.delta?.reasoning_content ?? '').join('');
        const content = chunks.map((k) => k.choices[0]?.delta?.content ?? '').join('');
        assert.equal(reasoning, 'Two is less.');
        assert.equal(content, 'Yes.');
        assert.match(userInput(upstreamRequests()[0]).content, /<max_thinking_length>4096<\/max_thinking_length>$/);
    });

    // status -> the SDK's class; each with OpenAI's .type and .code
    const CASES = [
        { what: 'n: 2', body: { n: 2 }, status: 400, cls: 'BadRequestError',
          type: 'invalid_request_error', code: null, param: 'n' },
        { what: 'a wrong key', apiKey: 'wrong-key', status: 401, cls: 'AuthenticationError',
          type: 'invalid_request_error', code: 'invalid_api_key' },
        { what: 'X-Account-ID from a key that may not choose', headers: { 'X-Account-ID': 'acc-1' },
          status: 403, cls: 'PermissionDeniedError', type: 'permission_error', code: 'permission_denied' },
        { what: 'an unknown model', body: { model: 'gpt-nope' }, status: 404, cls: 'NotFoundError',
          type: 'invalid_request_error', code: 'model_not_found', param: 'model' },
        { what: 'a body over client_max_body_size', prefix: '/small', big: true, status: 413,
          cls: 'APIError', type: 'invalid_request_error', code: 'request_too_large' },
        { what: 'upstream throttling', script: errorResponse('throttled'), status: 429,
          cls: 'RateLimitError', type: 'requests', code: 'rate_limit_exceeded' },
        { what: 'a broken upstream stream',
          script: { events: [{ reset_mid_frame: event('assistantResponseEvent', { content: 'x' }) }] },
          status: 500, cls: 'InternalServerError', type: 'server_error', code: null },
        { what: 'an unreachable backend', prefix: '/down', status: 502, cls: 'InternalServerError',
          type: 'server_error', code: 'bad_gateway' },
        { what: 'an overloaded backend', script: errorResponse('internal'), status: 503,
          cls: 'InternalServerError', type: 'server_error', code: 'service_unavailable' },
        { what: 'an upstream timeout', script: errorResponse('internal', { status: 504 }), status: 504,
          cls: 'InternalServerError', type: 'server_error', code: 'timeout' },
    ];

    for (const k of CASES) {
        test(`${k.what}: ${k.status} as ${k.cls} with type ${k.type} (check 34)`, async () => {
            const c = client({ prefix: k.prefix, apiKey: k.apiKey, headers: k.headers });
            for (const stream of [false, true]) {
                await freshGateway();
                mock(k.script ?? textResponse('never'));
                const content = k.big ? 'x'.repeat(4096) : 'hi';
                const err = await rejection(c.chat.completions.create({
                    model: MODEL, messages: [{ role: 'user', content }], stream, ...k.body,
                }));
                const where = `stream: ${stream}`;
                assert.ok(err instanceof OpenAI.APIError, `${where}: ${err}`);
                assert.equal(err.constructor.name, k.cls, where);
                assert.equal(err.status, k.status, where);
                assert.equal(err.type, k.type, where);
                assert.equal(err.code, k.code, where);
                if (k.param) assert.equal(err.param, k.param, where);
                assert.equal(typeof err.error?.message, 'string', where);
                assert.match(err.requestID ?? '', /^req_/, `${where}: x-request-id`);
            }
        });
    }

    test('an error after the 200 raises an APIError from the stream (check 34)', async () => {
        await freshGateway();
        const script = {
            status: 200,
            events: [...headEvents(), ...textEvents('partial'), { sleep_ms: 300 },
                     exceptionEvent('InternalServerException', { message: 'boom' }),
                     ...textEvents('never')],
        };
        mock(script);
        const c = client();
        const stream = await c.chat.completions.create({ model: MODEL, messages: USER, stream: true });
        const seen = [];
        const err = await rejection((async () => {
            for await (const k of stream) seen.push(k);
        })());
        assert.equal(seen.map((k) => k.choices[0]?.delta?.content ?? '').join(''), 'partial');
        assert.ok(err instanceof OpenAI.APIError, `not an APIError: ${err}`);
        assert.equal(err.status, undefined);
        assert.match(err.message, /boom/);
    });

    test('a 429 is retried by the SDK after retry-after, then succeeds', async () => {
        await freshGateway();
        mock([errorResponse('throttled'), textResponse('after the retry')]);
        const c = client({ maxRetries: 2 });
        const t0 = Date.now();
        const r = await c.chat.completions.create({ model: MODEL, messages: USER });
        const secs = (Date.now() - t0) / 1000;
        assert.equal(r.choices[0].message.content, 'after the retry');
        assert.ok(c.sent.length >= 2, `retried (${c.sent.length} requests)`);
        c.sent.forEach((s, i) => assert.equal(s.headers['x-stainless-retry-count'], String(i)));
        assert.equal(upstreamRequests().length, 2);
        assert.ok(secs >= 0.9, `the SDK waited for retry-after (${secs} s)`);
    });

    test('models.list() and models.retrieve() in OpenAI\'s shape (check 35)', async () => {
        await freshGateway();
        const c = client();
        const ids = [];
        for await (const m of c.models.list()) {
            assert.equal(m.object, 'model');
            assert.equal(typeof m.created, 'number');
            assert.equal(m.owned_by, 'anthropic');
            ids.push(m.id);
        }
        assert.ok(ids.includes(MODEL), ids.join(','));
        const one = await c.models.retrieve(MODEL);
        assert.equal(one.id, MODEL);
        assert.equal(one.object, 'model');
        const err = await rejection(c.models.retrieve('gpt-nope'));
        assert.ok(err instanceof OpenAI.NotFoundError);
        assert.equal(err.code, 'model_not_found');
    });

    test('the wire: data lines only, [DONE] last, no event: lines (check 31)', async () => {
        await freshGateway();
        mock(toolResponse({ text: ['a'], tools: [{ id: 'call_w', name: 'get_weather' }] }));
        const res = await fetch(`${GATEWAY_URL}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${GATEWAY_KEY}` },
            body: JSON.stringify({ model: MODEL, messages: USER, tools: [WEATHER], stream: true }),
        });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), 'text/event-stream');
        const text = await res.text();
        const frames = text.split('\n\n').filter((f) => f !== '');
        assert.ok(text.endsWith('data: [DONE]\n\n'));
        for (const f of frames) {
            assert.match(f, /^(data: [^\n]+|: [^\n]*)$/, `one line per frame: ${JSON.stringify(f)}`);
            if (f.startsWith('data: {')) JSON.parse(f.slice(6));
        }
        assert.ok(!/^event:/m.test(text));
    });
});
