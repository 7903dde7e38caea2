// Long upstream pauses: client-api.md §5 check 17.  The gateway runs with
// q2api_ping_interval 1s; the mock is silent for 3 s before its first frame
// and 9 s in the middle of the text.  The raw stream and both SDKs read the
// same answer at the same time, so the pause is paid once.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
    SDKS, SKIP, MODEL, client, mock, upstreamRequests, headEvents, textEvents,
    tailEvents, rawPost, parseSse, shape, collect,
} from './lib/harness.mjs';

const USER = [{ role: 'user', content: 'take your time' }];

describe('pings during upstream pauses', { skip: SKIP }, () => {
    test('pings keep the stream alive; the SDKs never show them (check 17)', async () => {
        mock({
            status: 200,
            events: [{ sleep_ms: 3000 }, ...headEvents(), ...textEvents('before'),
                     { sleep_ms: 9000 }, ...textEvents(' after'), ...tailEvents(2)],
        });
        const params = { model: MODEL, max_tokens: 64, messages: USER };

        const raw = (async () => {
            const t0 = Date.now();
            const res = await rawPost('/v1/messages', { ...params, stream: true });
            const headersAfter = (Date.now() - t0) / 1000;
            return { res, headersAfter, text: await res.text() };
        })();
        const viaSdk = SDKS.map(async (sdk) => {
            const c = client(sdk);
            const t0 = Date.now();
            const stream = await c.messages.create({ ...params, stream: true });
            const events = [];
            let firstAfter;
            for await (const e of stream) {
                firstAfter ??= (Date.now() - t0) / 1000;
                events.push(e);
            }
            return { sdk, events, firstAfter };
        });

        const r = await raw;
        assert.equal(r.res.status, 200);
        assert.ok(r.headersAfter < 2.5, `the response began while the backend was silent (${r.headersAfter} s)`);
        const { events, problems } = parseSse(r.text);
        assert.deepEqual(problems, []);
        const names = events.map((e) => e.name);
        const pings = names.filter((n) => n === 'ping').length;
        assert.ok(pings >= 8, `at least 8 pings in 12 s of silence (got ${pings})`);
        assert.equal(names[0], 'message_start', 'pings only after message_start');
        assert.equal(names.at(-1), 'message_stop');
        const firstText = names.indexOf('content_block_start');
        assert.ok(names.slice(1, firstText).includes('ping'), 'pings before the first block');
        const between = names.slice(names.indexOf('content_block_delta'), names.lastIndexOf('content_block_delta'));
        assert.ok(between.includes('ping'), 'pings between the two deltas');

        for (const { sdk, events: ev, firstAfter } of await Promise.all(viaSdk)) {
            assert.ok(!ev.some((e) => e.type === 'ping'), `${sdk.label}: no ping in the iteration`);
            assert.deepEqual(shape(ev), ['message_start', 'content_block_start:0', 'content_block_delta:0',
                                         'content_block_delta:0', 'content_block_stop:0', 'message_delta',
                                         'message_stop'], sdk.label);
            assert.equal(ev.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text).join(''),
                         'before after', sdk.label);
            assert.ok(firstAfter < 2.5, `${sdk.label}: message_start before the backend spoke (${firstAfter} s)`);
        }
        assert.equal(upstreamRequests().length, 3);
    });
});
