// POST /v1/messages and /v1/messages/count_tokens through both SDK
// generations: client-api.md §5 checks 1-13, 18 and 20.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
    SDKS, SKIP, MODEL, UPSTREAM_MODEL, GATEWAY_KEY, client, mock, upstreamRequests,
    userInput, event, exceptionEvent, headEvents, textEvents, tailEvents,
    textResponse, toolResponse, rawPost, parseSse, shape, collect,
} from './lib/harness.mjs';

const USER = [{ role: 'user', content: 'hi' }];
const STOP_REASONS = ['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'pause_turn',
                      'refusal', 'model_context_window_exceeded'];
const WEATHER_TOOL = {
    name: 'get_weather',
    description: 'The weather in a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
// 1x1 transparent PNG
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

function assertInt(v, what) {
    assert.ok(Number.isInteger(v) && v >= 0, `${what} is an int >= 0 (got ${v})`);
}

function assertMessage(msg, model = MODEL) {
    assert.match(msg.id, /^msg_/);
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.model, model);
    assert.ok(Array.isArray(msg.content) && msg.content.length > 0, 'content is not empty');
    assert.ok(STOP_REASONS.includes(msg.stop_reason), `stop_reason ${msg.stop_reason}`);
    assert.ok('stop_sequence' in msg, 'stop_sequence present');
    assertInt(msg.usage.input_tokens, 'usage.input_tokens');
    assertInt(msg.usage.output_tokens, 'usage.output_tokens');
    for (const k of ['cache_creation_input_tokens', 'cache_read_input_tokens']) {
        assert.ok(k in msg.usage, `usage.${k} present`);
        assert.ok(msg.usage[k] === null || Number.isInteger(msg.usage[k]), `usage.${k} int or null`);
    }
}

// Checks the event list of a raw stream: message_start, blocks 0..N-1 each
// start/delta*/stop in order, one message_delta with usage.output_tokens,
// message_stop last.
function assertEventOrder(events) {
    const s = shape(events);
    assert.equal(s[0], 'message_start', 'first event');
    assert.equal(s.at(-1), 'message_stop', 'last event');
    assert.equal(s.at(-2), 'message_delta', 'message_delta before message_stop');
    assert.equal(s.filter((x) => x === 'message_delta').length, 1, 'one message_delta');
    assert.equal(s.filter((x) => x === 'message_start').length, 1, 'one message_start');
    assert.ok(Number.isInteger(events.at(-2).usage.output_tokens), 'message_delta.usage.output_tokens');
    let next = 0;
    let open = null;
    for (const e of events.slice(1, -2)) {
        if (e.type === 'content_block_start') {
            assert.equal(open, null, `block ${e.index} starts while ${open} is open`);
            assert.equal(e.index, next, 'blocks start at 0, 1, 2...');
            open = e.index;
            next++;
        } else if (e.type === 'content_block_delta') {
            assert.equal(e.index, open, 'delta belongs to the open block');
        } else if (e.type === 'content_block_stop') {
            assert.equal(e.index, open, 'stop closes the open block');
            open = null;
        } else {
            assert.fail(`unexpected event ${e.type} inside the message`);
        }
    }
    assert.equal(open, null, 'every block was stopped');
    return next;
}

function thinkingScript() {
    return {
        status: 200,
        events: [
            ...headEvents(),
            event('reasoningContentEvent', { text: 'Let me' }),
            event('reasoningContentEvent', { text: ' think.' }),
            event('reasoningContentEvent', { signature: 'c2lnLWUyZQ==' }),
            event('reasoningContentEvent', { redactedContent: 'cmVkYWN0ZWQtZTJl' }),
            ...textEvents('Answer.'),
            ...tailEvents(3),
        ],
    };
}

for (const sdk of SDKS) {
    describe(sdk.label, { skip: SKIP }, () => {
        test('create (non-stream): the message shape; the SDK\'s version and key headers (checks 1, 11)', async () => {
            mock(textResponse('Hel', 'lo'));
            const c = client(sdk);
            const msg = await c.messages.create({ model: MODEL, max_tokens: 64, messages: USER });
            assertMessage(msg);
            assert.deepEqual(msg.content.map((b) => [b.type, b.text]), [['text', 'Hello']]);
            assert.equal(msg.stop_reason, 'end_turn');
            assert.equal(msg.usage.output_tokens, 2);

            const h = c.sent[0].headers;
            assert.equal(h['anthropic-version'], sdk.apiVersion);
            if (sdk.auth === 'bearer') {
                assert.equal(h.authorization, `Bearer ${GATEWAY_KEY}`);
                assert.equal(h['x-api-key'], undefined);
            } else {
                assert.equal(h['x-api-key'], GATEWAY_KEY);
                assert.equal(h.authorization, undefined);
            }

            const up = upstreamRequests();
            assert.equal(up.length, 1, 'one upstream request');
            assert.equal(userInput(up[0]).modelId, UPSTREAM_MODEL);
            assert.match(userInput(up[0]).content, /\bhi\b/);
        });

        test('a wrong key is a 401 AuthenticationError, "invalid x-api-key", no upstream call', async () => {
            mock(textResponse('never'));
            const c = client(sdk, { apiKey: 'not-the-key' });
            const err = await c.messages.create({ model: MODEL, max_tokens: 16, messages: USER })
                .then(() => null, (e) => e);
            assert.ok(err instanceof sdk.mod.AuthenticationError, `got ${err?.constructor?.name}: ${err}`);
            assert.equal(err.status, 401);
            assert.equal(err.error?.error?.type, 'authentication_error');
            assert.equal(err.error?.error?.message, 'invalid x-api-key');
            assert.equal(upstreamRequests().length, 0);
        });

        test('temperature, top_p and top_k are accepted (and ignored) under either version (check 11)', async () => {
            mock(textResponse('warm'));
            const c = client(sdk);
            const msg = await c.messages.create({
                model: MODEL, max_tokens: 16, messages: USER, temperature: 0.2, top_p: 0.9, top_k: 5,
            });
            assert.equal(msg.content[0].text, 'warm');
        });

        test('stream().finalMessage() equals the non-stream message (checks 2, 5)', async () => {
            const script = toolResponse({
                text: ['Let me check.'], id: 'tooluse_final0001', name: 'get_weather',
                fragments: ['', '{"city": ', '"Ber', 'lin"}'],
            });
            const params = {
                model: MODEL, max_tokens: 256, tools: [WEATHER_TOOL],
                messages: [{ role: 'user', content: 'Weather in Berlin?' }],
            };
            const c = client(sdk);

            mock(script);
            const plain = await c.messages.create(params);
            mock(script);
            const stream = c.messages.stream(params);
            const snapshots = [];
            stream.on('inputJson', (_partial, snapshot) => snapshots.push(snapshot));
            const final = await stream.finalMessage();

            assertMessage(plain);
            assertMessage(final);
            const strip = (m) => m.content.map(({ citations, ...b }) => b);
            assert.deepEqual(strip(final), strip(plain));
            assert.deepEqual(strip(plain), [
                { type: 'text', text: 'Let me check.' },
                { type: 'tool_use', id: 'tooluse_final0001', name: 'get_weather', input: { city: 'Berlin' } },
            ]);
            assert.equal(final.stop_reason, 'tool_use');
            assert.equal(plain.stop_reason, 'tool_use');
            assert.equal(final.stop_sequence, plain.stop_sequence);
            assert.equal(final.usage.output_tokens, plain.usage.output_tokens);
            assert.deepEqual(snapshots.at(-1), { city: 'Berlin' }, 'the inputJson snapshots build up the input');
        });

        test('raw stream: true iteration: message_start, blocks in index order, message_delta, message_stop (check 3)', async () => {
            mock(toolResponse({
                text: ['Checking ', 'both.'],
                tools: [
                    { id: 'tooluse_raw00001', name: 'get_weather', fragments: ['{"city":', ' "Paris"}'] },
                ],
            }));
            const c = client(sdk);
            const stream = await c.messages.create({
                model: MODEL, max_tokens: 256, stream: true, tools: [WEATHER_TOOL],
                messages: [{ role: 'user', content: 'Weather?' }],
            });
            const events = await collect(stream);
            assert.equal(assertEventOrder(events), 2, 'two blocks');
            assert.equal(events[0].message.model, MODEL);
            assert.deepEqual(events[0].message.content, []);
            assert.deepEqual(events[1].content_block, { type: 'text', text: '' });
            assert.deepEqual(events[1 + 4].content_block,
                             { type: 'tool_use', id: 'tooluse_raw00001', name: 'get_weather', input: {} });
            const json = events.filter((e) => e.delta?.type === 'input_json_delta')
                .map((e) => e.delta.partial_json).join('');
            assert.deepEqual(JSON.parse(json), { city: 'Paris' });
            assert.equal(events.at(-2).delta.stop_reason, 'tool_use');
        });

        test('two parallel tool_use blocks: unique ids, both inputs parse (check 6)', async () => {
            mock(toolResponse({
                tools: [
                    { id: 'tooluse_par00001', name: 'get_weather', fragments: ['', '{"city": "Ro', 'me"}'] },
                    { id: 'tooluse_par00002', name: 'get_weather', fragments: ['{"city"', ': "Oslo"', '}'] },
                ],
            }));
            const c = client(sdk);
            const final = await c.messages.stream({
                model: MODEL, max_tokens: 256, tools: [WEATHER_TOOL],
                messages: [{ role: 'user', content: 'Rome and Oslo?' }],
            }).finalMessage();
            const uses = final.content.filter((b) => b.type === 'tool_use');
            assert.equal(uses.length, 2);
            assert.notEqual(uses[0].id, uses[1].id);
            assert.deepEqual(uses.map((u) => u.input), [{ city: 'Rome' }, { city: 'Oslo' }]);
            assert.equal(final.stop_reason, 'tool_use');
        });

        test('thinking stream: deltas joined, signature set, redacted_thinking passed (check 7)', async () => {
            const params = {
                model: MODEL, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 },
                messages: [{ role: 'user', content: 'Think first.' }],
            };
            const c = client(sdk);
            mock(thinkingScript());
            const events = await collect(await c.messages.create({ ...params, stream: true }));
            assertEventOrder(events);
            const thinkingDeltas = events.filter((e) => e.delta?.type === 'thinking_delta');
            assert.ok(thinkingDeltas.length >= 1, 'thinking_delta events');
            assert.deepEqual(events.find((e) => e.type === 'content_block_start').content_block,
                             { type: 'thinking', thinking: '', signature: '' });

            mock(thinkingScript());
            const final = await c.messages.stream(params).finalMessage();
            assert.deepEqual(final.content.map(({ citations, ...b }) => b), [
                { type: 'thinking', thinking: 'Let me think.', signature: 'c2lnLWUyZQ==' },
                { type: 'redacted_thinking', data: 'cmVkYWN0ZWQtZTJl' },
                { type: 'text', text: 'Answer.' },
            ]);

            mock(thinkingScript());
            const plain = await c.messages.create(params);
            assert.deepEqual(plain.content.map((b) => b.type), ['thinking', 'redacted_thinking', 'text']);
            assert.equal(plain.content[0].thinking, 'Let me think.');
            assert.equal(plain.content[0].signature, 'c2lnLWUyZQ==');
        });

        test('a thinking block sent back with an is_error tool_result of nested blocks is accepted (check 8)', async () => {
            mock(textResponse('noted'));
            const c = client(sdk);
            const msg = await c.messages.create({
                model: MODEL, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 },
                tools: [WEATHER_TOOL],
                messages: [
                    { role: 'user', content: 'Weather in Paris?' },
                    {
                        role: 'assistant',
                        content: [
                            { type: 'thinking', thinking: 'I should call the tool.', signature: 'c2lnLXByZXY=' },
                            { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
                        ],
                    },
                    {
                        role: 'user',
                        content: [{
                            type: 'tool_result', tool_use_id: 'toolu_01A', is_error: true,
                            content: [
                                { type: 'text', text: 'boom' },
                                { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
                            ],
                        }],
                    },
                ],
            });
            assert.equal(msg.content[0].text, 'noted');
            const up = upstreamRequests();
            assert.equal(up.length, 1);
            const results = userInput(up[0]).userInputMessageContext.toolResults;
            assert.equal(results.length, 1);
            assert.equal(results[0].toolUseId, 'toolu_01A');
            assert.equal(results[0].status, 'error');
            assert.match(results[0].content.map((x) => x.text).join(''), /boom/);
        });

        test('system as a string and as cache_control blocks; role system inside messages[] (checks 9, 10)', async () => {
            const c = client(sdk);
            const bodies = [
                { system: 'Be brief.', messages: USER },
                {
                    system: [
                        { type: 'text', text: 'Be brief.' },
                        { type: 'text', text: 'Be kind.', cache_control: { type: 'ephemeral', ttl: '1h' } },
                    ],
                    messages: [{
                        role: 'user',
                        content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }],
                    }],
                },
                {
                    messages: [
                        { role: 'user', content: 'hi' },
                        { role: 'system', content: 'Environment: e2e.' },
                    ],
                },
                {
                    messages: [
                        { role: 'user', content: [{ type: 'text', text: 'hi' }] },
                        { role: 'system', content: [{ type: 'text', text: 'Environment: e2e.' }] },
                    ],
                },
            ];
            for (const [i, body] of bodies.entries()) {
                mock(textResponse(`ok ${i}`));
                const msg = await c.messages.create({ model: MODEL, max_tokens: 16, ...body });
                assert.equal(msg.content[0].text, `ok ${i}`, `body ${i}`);
                const content = JSON.stringify(upstreamRequests()[0].json);
                assert.match(content, i < 2 ? /Be brief\./ : /Environment: e2e\./, `body ${i} upstream`);
            }
        });

        test('beta.messages with ?beta=true and unknown anthropic-beta values (check 12)', async () => {
            mock(textResponse('beta ok'));
            const c = client(sdk);
            const msg = await c.beta.messages.create({
                model: MODEL, max_tokens: 16, messages: USER,
                betas: ['made-up-feature-2099-01-01', 'interleaved-thinking-2025-05-14'],
            });
            assert.equal(msg.content[0].text, 'beta ok');
            assert.match(c.sent[0].url, sdk.betaQuery ? /\/v1\/messages\?beta=true$/ : /\/v1\/messages$/);
            assert.match(c.sent[0].headers['anthropic-beta'], /made-up-feature-2099-01-01/);
        });

        test('an output cut off by the backend is stop_reason max_tokens (check 13, second half)', async () => {
            const script = {
                status: 200,
                events: [...headEvents(), ...textEvents('Long answer'),
                         exceptionEvent('ContentLengthExceededException',
                                        { message: 'Response exceeded the maximum length' })],
            };
            const c = client(sdk);
            mock(script);
            const plain = await c.messages.create({ model: MODEL, max_tokens: 16, messages: USER });
            assert.equal(plain.stop_reason, 'max_tokens');
            assert.equal(plain.content[0].text, 'Long answer');
            mock(script);
            const final = await c.messages.stream({ model: MODEL, max_tokens: 16, messages: USER }).finalMessage();
            assert.equal(final.stop_reason, 'max_tokens');
        });

        test('countTokens gives {input_tokens: int} for a create body with tools and system (check 18)', async () => {
            mock(textResponse('never'));
            const c = client(sdk);
            const body = {
                model: MODEL, system: 'Be brief.', tools: [WEATHER_TOOL],
                messages: [{ role: 'user', content: 'Weather in Berlin?' }],
            };
            const r = await c.messages.countTokens(body);
            assert.deepEqual(Object.keys(r), ['input_tokens']);
            assert.ok(Number.isInteger(r.input_tokens) && r.input_tokens > 0, `input_tokens ${r.input_tokens}`);
            const beta = await c.beta.messages.countTokens({ ...body, betas: ['token-counting-2024-11-01'] });
            assert.equal(beta.input_tokens, r.input_tokens);
            assert.match(c.sent[1].url, sdk.betaQuery ? /\/v1\/messages\/count_tokens\?beta=true$/
                                                      : /\/v1\/messages\/count_tokens$/);
            assert.equal(upstreamRequests().length, 0, 'answered by the gateway');
        });

        test('withResponse(): request-id and content types (check 20)', async () => {
            const c = client(sdk);
            mock(textResponse('with response'));
            const r1 = await c.messages.create({ model: MODEL, max_tokens: 16, messages: USER }).withResponse();
            assert.equal(r1.data.content[0].text, 'with response');
            assert.match(r1.response.headers.get('content-type'), /^application\/json\b/);
            assert.match(r1.response.headers.get('request-id'), /^req_/);
            assert.equal(r1.request_id, r1.response.headers.get('request-id'));
            assert.equal(r1.data._request_id, r1.request_id);

            mock(textResponse('streamed'));
            const r2 = await c.messages.create({ model: MODEL, max_tokens: 16, messages: USER, stream: true })
                .withResponse();
            assert.match(r2.response.headers.get('content-type'), /^text\/event-stream\b/);
            assert.match(r2.request_id, /^req_/);
            const text = (await collect(r2.data))
                .filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text).join('');
            assert.equal(text, 'streamed');
        });
    });
}

describe('wire', { skip: SKIP }, () => {
    test('raw bytes: every event is "event: X" + one data line of JSON with type X, ended by a blank line (check 4)', async () => {
        mock(toolResponse({
            text: ['Gr\u00fc\u00df', 'e \u{1f600}'],
            tools: [{ id: 'tooluse_wire0001', name: 'get_weather', fragments: ['', '{"city": "K\u00f6', 'ln"}'] }],
            split: 'byte',
        }));
        const res = await rawPost('/v1/messages?beta=true', {
            model: MODEL, max_tokens: 64, stream: true, tools: [WEATHER_TOOL], messages: USER,
        });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type'), /^text\/event-stream/);
        assert.equal(res.headers.get('content-length'), null);
        const { events, problems } = parseSse(await res.text());
        assert.deepEqual(problems, []);
        const data = events.filter((e) => e.name !== 'ping').map((e) => e.data);
        assert.equal(assertEventOrder(data), 2);
        assert.equal(data.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text).join(''),
                     'Gr\u00fc\u00dfe \u{1f600}');
    });

    test('count_tokens?beta=true with anthropic-beta, as Claude Code sends it', async () => {
        mock(textResponse('never'));
        const res = await rawPost('/v1/messages/count_tokens?beta=true',
                                  { model: MODEL, messages: USER },
                                  { 'anthropic-beta': 'token-counting-2024-11-01,made-up-2099-01-01' });
        assert.equal(res.status, 200);
        assert.ok(Number.isInteger((await res.json()).input_tokens));
        assert.equal(upstreamRequests().length, 0);
    });

    test('a plain request with only Authorization: Bearer and anthropic-version 2026-10-21', async () => {
        mock(textResponse('bearer'));
        const res = await rawPost('/v1/messages', { model: MODEL, max_tokens: 16, messages: USER },
                                  { 'x-api-key': null, authorization: `Bearer ${GATEWAY_KEY}`,
                                    'anthropic-version': '2026-10-21' });
        assert.equal(res.status, 200, await res.clone().text());
        assert.equal((await res.json()).content[0].text, 'bearer');
    });
});
