// The official openai npm package against /v1/responses: responses.create()
// and responses.stream() for text, a function-call round trip (by the whole
// history and by previous_response_id), reasoning with its signature in
// encrypted_content coming back on the next turn, and an error before and
// after the first byte as the SDK's own exceptions.

import fs from 'node:fs';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI from 'openai';

import {
    SKIP, MODEL, GATEWAY_URL, GATEWAY_KEY, mock, freshGateway, upstreamRequests,
    userInput, headEvents, textEvents, tailEvents, textResponse, toolResponse,
    errorResponse, exceptionEvent, event, rejection,
} from './lib/harness.mjs';

const VERSION = JSON.parse(fs.readFileSync(
    new URL('./node_modules/openai/package.json', import.meta.url), 'utf8')).version;

function client() {
    return new OpenAI({
        apiKey: GATEWAY_KEY,
        baseURL: GATEWAY_URL + '/v1',
        maxRetries: 0,
        timeout: 60_000,
    });
}

const WEATHER = {
    type: 'function',
    name: 'get_weather',
    description: 'The weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    strict: false,
};

// the same script for a create() and a stream()
function twice(script) {
    mock([script, structuredClone(script)]);
}

// ids differ between two replies, and the stream helper adds "parsed";
// the rest must not differ
function strip(output) {
    return output.map((item) => ({
        ...item,
        id: 'x',
        ...(item.content ? { content: item.content.map(({ parsed, ...part }) => part) } : {}),
    }));
}

describe(`openai ${VERSION} responses`, { skip: SKIP }, () => {
    test('text: create() and stream() give the same Response', async () => {
        await freshGateway();
        twice(textResponse('Hel', 'lo ', 'w\u00f6rld'));
        const c = client();
        const params = { model: MODEL, instructions: 'Be brief.', input: 'hi', metadata: { k: 'v' } };
        const plain = await c.responses.create(params);
        assert.equal(plain.object, 'response');
        assert.match(plain.id, /^resp_[0-9a-f]{24}$/);
        assert.equal(plain.status, 'completed');
        assert.equal(plain.output_text, 'Hello w\u00f6rld');
        assert.deepEqual(plain.metadata, { k: 'v' });
        assert.equal(plain.instructions, 'Be brief.');
        assert.equal(plain.usage.total_tokens, plain.usage.input_tokens + plain.usage.output_tokens);

        const stream = c.responses.stream(params);
        const deltas = [];
        const types = [];
        stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
        for await (const e of stream) types.push(e.type);
        const final = await stream.finalResponse();
        assert.deepEqual(deltas, ['Hel', 'lo ', 'w\u00f6rld']);
        assert.equal(types[0], 'response.created');
        assert.equal(types.at(-1), 'response.completed');
        assert.equal(final.output_text, 'Hello w\u00f6rld');
        assert.deepEqual(strip(final.output), strip(plain.output));
        assert.match(userInput(upstreamRequests()[0]).content, /^--- SYSTEM PROMPT BEGIN ---\nBe brief\./);
    });

    test('a function-call round trip: by the whole history, then by previous_response_id', async () => {
        await freshGateway();
        const call = toolResponse({ text: ['Checking.'], id: 'tooluse_W1', name: 'get_weather',
                                    fragments: ['{"city"', ': "Os', 'lo"}'] });
        mock([call, textResponse('Sunny in Oslo.'), structuredClone(call), textResponse('Still sunny.')]);
        const c = client();

        // the history sent back whole, as Codex does, with store false
        const input = [{ role: 'user', content: 'Weather in Oslo?' }];
        const first = await c.responses.stream({ model: MODEL, input, tools: [WEATHER], store: false })
            .finalResponse();
        const fc = first.output.find((i) => i.type === 'function_call');
        assert.equal(fc.call_id, 'tooluse_W1');
        assert.deepEqual(JSON.parse(fc.arguments), { city: 'Oslo' });
        const second = await c.responses.create({
            model: MODEL, tools: [WEATHER], store: false,
            input: [...input, ...first.output,
                    { type: 'function_call_output', call_id: fc.call_id, output: 'sunny' }],
        });
        assert.equal(second.output_text, 'Sunny in Oslo.');
        let up = upstreamRequests()[1].json.conversationState;
        assert.deepEqual(up.history[1].assistantResponseMessage.toolUses,
                         [{ toolUseId: 'tooluse_W1', name: 'get_weather', input: { city: 'Oslo' } }]);
        assert.deepEqual(userInput(upstreamRequests()[1]).userInputMessageContext.toolResults,
                         [{ toolUseId: 'tooluse_W1', content: [{ text: 'sunny' }], status: 'success' }]);

        // the same through the gateway's store
        const third = await c.responses.create({ model: MODEL, input: 'Weather in Oslo?', tools: [WEATHER] });
        const fourth = await c.responses.create({
            model: MODEL, tools: [WEATHER], previous_response_id: third.id,
            input: [{ type: 'function_call_output', call_id: 'tooluse_W1', output: 'sunny' }],
        });
        assert.equal(fourth.output_text, 'Still sunny.');
        assert.equal(fourth.previous_response_id, third.id);
        up = upstreamRequests()[3].json.conversationState;
        assert.equal(up.history[1].assistantResponseMessage.toolUses[0].toolUseId, 'tooluse_W1');
        assert.equal(userInput(upstreamRequests()[3]).userInputMessageContext.toolResults[0].toolUseId,
                     'tooluse_W1');

        const err = await rejection(c.responses.create({
            model: MODEL, input: 'x', previous_response_id: 'resp_000000000000000000000000' }));
        assert.equal(err.constructor.name, 'BadRequestError');
        assert.equal(err.status, 400);
        assert.match(err.message, /Previous response with id 'resp_0{24}' not found/);
    });

    test('reasoning: a summary item whose encrypted_content comes back as the thinking signature', async () => {
        await freshGateway();
        const events = [
            ...headEvents(),
            event('reasoningContentEvent', { text: 'Two and two ' }),
            event('reasoningContentEvent', { text: 'make four.' }),
            event('reasoningContentEvent', { signature: 'c2lnLWUyZQ==' }),
            ...textEvents('4'),
            ...tailEvents(3),
        ];
        mock([{ status: 200, events }, textResponse('Yes.')]);
        const c = client();
        const params = {
            model: MODEL, input: 'What is 2+2?', store: false,
            reasoning: { effort: 'low', summary: 'auto' }, include: ['reasoning.encrypted_content'],
        };
        const stream = c.responses.stream(params);
        const summary = [];
        stream.on('response.reasoning_summary_text.delta', (e) => summary.push(e.delta));
        const r = await stream.finalResponse();
        assert.deepEqual(summary, ['Two and two ', 'make four.']);
        const rs = r.output[0];
        assert.equal(rs.type, 'reasoning');
        assert.deepEqual(rs.summary, [{ type: 'summary_text', text: 'Two and two make four.' }]);
        assert.equal(rs.encrypted_content, 'c2lnLWUyZQ==');
        assert.equal(r.output_text, '4');
        assert.ok(r.usage.output_tokens_details.reasoning_tokens > 0);
        assert.match(userInput(upstreamRequests()[0]).content, /<max_thinking_length>4096<\/max_thinking_length>$/);

        // the next turn returns the item; the back end sees the thinking again
        await c.responses.create({ ...params, input: [{ role: 'user', content: 'What is 2+2?' }, ...r.output,
                                                     { role: 'user', content: 'Sure?' }] });
        const up = upstreamRequests()[1].json.conversationState;
        assert.equal(up.history[1].assistantResponseMessage.content,
                     '<thinking>Two and two make four.</thinking>\n4');
    });

    test('errors: a 400 before the first byte, a failed stream after it', async () => {
        await freshGateway();
        const c = client();
        let err = await rejection(c.responses.create({ model: MODEL, input: [{ type: 'frobnicate' }] }));
        assert.equal(err.constructor.name, 'BadRequestError');
        assert.equal(err.param, 'input.0.type');

        mock({ status: 200, events: [...headEvents(), ...textEvents('partial'), { sleep_ms: 200 },
                                     exceptionEvent('InternalServerException', { message: 'boom' })] });
        const stream = c.responses.stream({ model: MODEL, input: 'hi' });
        err = await rejection((async () => { for await (const e of stream) void e; })());
        assert.match(String(err.message), /boom/);
    });
});
