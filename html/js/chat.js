// The chat test: a streamed Claude Messages request through the gateway
// (POST v2/chat/test), on one account or on the pool.

import * as api from './api.js';
import { $, h, clear } from './dom.js';

let controller = null;

export function init() {
    $('chat-send').addEventListener('click', send);
    $('chat-stop').addEventListener('click', () => controller && controller.abort());
}

export function useAccount(id) {
    $('chat-account').value = id;
}

// SSE events from a byte stream, as {event, data} objects
async function* events(body) {
    const reader = body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
        const { value, done } = await reader.read();
        if (done) {
            break;
        }
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i).replace(/^\r?\n\r?\n/, '');
            let event = 'message';
            const data = [];
            for (const line of block.split(/\r?\n/)) {
                if (line.startsWith('event:')) {
                    event = line.slice(6).trim();
                } else if (line.startsWith('data:')) {
                    data.push(line.slice(5).replace(/^ /, ''));
                }
            }
            if (data.length) {
                yield { event, data: data.join('\n') };
            }
        }
    }
}

async function send() {
    const out = $('chat-out');
    const meta = $('chat-meta');
    const account = $('chat-account').value.trim();
    const body = {
        model: $('chat-model').value.trim() || 'claude-sonnet-4-5',
        max_tokens: 1024,
        stream: true,
        messages: [{ role: 'user', content: $('chat-prompt').value }],
    };
    clear(out);
    meta.textContent = 'Sending\u2026';
    meta.className = 'muted';
    controller = new AbortController();
    $('chat-send').disabled = true;
    $('chat-stop').disabled = false;
    const t0 = performance.now();
    let first = null;
    let usage = {};
    let stop = '';
    try {
        const q = account ? `?account_id=${encodeURIComponent(account)}` : '';
        const res = await api.raw('POST', `v2/chat/test${q}`, body, controller.signal);
        if (!res.ok || !/event-stream/.test(res.headers.get('Content-Type') || '')) {
            const b = await res.json().catch(() => null);
            throw new Error(`${res.status}: ${api.describe(b, res.status)}`);
        }
        let block = null;
        for await (const ev of events(res.body)) {
            let d;
            try {
                d = JSON.parse(ev.data);
            } catch {
                continue;
            }
            if (d.type === 'content_block_start') {
                block = d.content_block && d.content_block.type === 'thinking'
                    ? out.appendChild(h('span', { class: 'thinking' }))
                    : out.appendChild(h('span'));
                if (d.content_block && d.content_block.type === 'tool_use') {
                    block.textContent = `[tool ${d.content_block.name}] `;
                }
            } else if (d.type === 'content_block_delta' && block) {
                first = first || performance.now();
                const x = d.delta || {};
                block.appendChild(document.createTextNode(
                    x.text || x.thinking || x.partial_json || ''));
            } else if (d.type === 'message_start') {
                usage = (d.message && d.message.usage) || {};
            } else if (d.type === 'message_delta') {
                stop = (d.delta && d.delta.stop_reason) || stop;
                usage = { ...usage, ...(d.usage || {}) };
            } else if (d.type === 'error') {
                throw new Error(api.describe(d, 'stream'));
            }
        }
        const ms = Math.round(performance.now() - t0);
        meta.textContent = `${stop || 'ended'} \u00b7 ${usage.input_tokens ?? '?'} in, `
            + `${usage.output_tokens ?? '?'} out \u00b7 first token `
            + `${first ? Math.round(first - t0) : '?'} ms, total ${ms} ms`
            + (account ? ` \u00b7 account ${account}` : ' \u00b7 pool');
    } catch (e) {
        meta.className = 'error';
        meta.textContent = e.name === 'AbortError' ? 'Stopped.' : `Failed: ${e.message}`;
    } finally {
        controller = null;
        $('chat-send').disabled = false;
        $('chat-stop').disabled = true;
    }
}
