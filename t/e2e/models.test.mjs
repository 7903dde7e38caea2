// GET /v1/models and /v1/models/{id}: client-api.md §5 check 19.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { SDKS, SKIP, client, mock, upstreamRequests, textResponse, rejection } from './lib/harness.mjs';

const KNOWN = ['claude-sonnet-4-5', 'claude-sonnet-4-6', 'claude-opus-4-5', 'claude-opus-4-6',
               'claude-haiku-4-5', 'claude-sonnet-4'];

// Auto-pagination, stopped after `max` items so that a gateway that never
// says has_more: false fails instead of hanging.
async function all(iterable, max = 200) {
    const out = [];
    for await (const m of iterable) {
        out.push(m);
        if (out.length > max) break;
    }
    return out;
}

for (const sdk of SDKS) {
    describe(sdk.label, { skip: SKIP }, () => {
        test('models.list(): auto-pagination ends, every item a model (check 19)', async () => {
            mock(textResponse('never'));
            const c = client(sdk);
            const page = await c.models.list();
            assert.equal(page.has_more, false);
            const models = await all(c.models.list());
            const ids = models.map((m) => m.id);
            assert.ok(ids.length <= 200, 'auto-pagination ended');
            assert.equal(new Set(ids).size, ids.length, 'no id twice');
            for (const id of KNOWN) assert.ok(ids.includes(id), `lists ${id}`);
            for (const m of models) {
                assert.equal(m.type, 'model');
                assert.equal(typeof m.display_name, 'string');
                assert.ok(!Number.isNaN(Date.parse(m.created_at)), `created_at ${m.created_at}`);
            }
            assert.equal(upstreamRequests().length, 0, 'answered by the gateway');
        });

        test('models.list({limit: 2}) pages forward with after_id to the same list', async () => {
            const c = client(sdk);
            const everything = (await all(c.models.list({ limit: 1000 }))).map((m) => m.id);
            const first = await c.models.list({ limit: 2 });
            assert.equal(first.data.length, 2);
            assert.equal(first.has_more, true);
            assert.equal(first.first_id, everything[0]);
            assert.equal(first.last_id, everything[1]);
            const paged = (await all(c.models.list({ limit: 2 }))).map((m) => m.id);
            assert.deepEqual(paged, everything);
            const pages = c.sent.filter((s) => /after_id=/.test(s.url)).length;
            assert.equal(pages, Math.ceil(everything.length / 2) - 1, 'one request per further page');
        });

        test('models.list({before_id}) pages backward and ends', async () => {
            const c = client(sdk);
            const everything = (await all(c.models.list({ limit: 1000 }))).map((m) => m.id);
            const last = everything.at(-1);
            const before = (await all(c.models.list({ before_id: last, limit: 2 }))).map((m) => m.id);
            assert.deepEqual([...before].sort(), everything.slice(0, -1).sort());
        });

        test('models.retrieve(id) is a model; an unknown id is a NotFoundError (check 19)', async () => {
            const c = client(sdk);
            const m = await c.models.retrieve('claude-sonnet-4-6');
            assert.equal(m.type, 'model');
            assert.equal(m.id, 'claude-sonnet-4-6');
            assert.equal(typeof m.display_name, 'string');
            const err = await rejection(c.models.retrieve('claude-nope-9'));
            assert.ok(err instanceof sdk.mod.NotFoundError, `got ${err}`);
            assert.equal(err.status, 404);
            assert.equal(err.error?.error?.type, 'not_found_error');
            assert.match(err.requestID ?? '', /^req_/);
        });
    });
}
