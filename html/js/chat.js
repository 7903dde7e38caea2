// The chat test: a streamed request through the gateway (POST
// v2/chat/test) in the Claude Messages or the OpenAI Chat Completions
// dialect, on one account or on the pool.

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

// a Claude Messages stream: text, thinking and tool blocks as they come
function claudeReader(out, st) {
    let block = null;
    return (d) => {
        if (d.type === 'content_block_start') {
            const type = d.content_block && d.content_block.type;
            block = out.appendChild(h('span',
                { class: type === 'thinking' ? 'thinking' : undefined }));
            if (type === 'tool_use') {
                block.textContent = `[tool ${d.content_block.name}] `;
            }
        } else if (d.type === 'content_block_delta' && block) {
            st.first = st.first || performance.now();
            const x = d.delta || {};
            block.appendChild(document.createTextNode(
                x.text || x.thinking || x.partial_json || ''));
        } else if (d.type === 'message_start') {
            const u = (d.message && d.message.usage) || {};
            st.input = u.input_tokens;
            st.output = u.output_tokens;
        } else if (d.type === 'message_delta') {
            st.stop = (d.delta && d.delta.stop_reason) || st.stop;
            const u = d.usage || {};
            st.input = u.input_tokens ?? st.input;
            st.output = u.output_tokens ?? st.output;
        } else if (d.type === 'error') {
            throw new Error(api.describe(d, 'stream'));
        }
    };
}

// an OpenAI Chat Completions stream: content, reasoning_content and tool
// calls (by index) from each chunk's first choice; usage in the last chunk
function openaiReader(out, st) {
    let block = null;
    let kind = '';
    const tools = [];
    const span = (k, cls) => {
        if (kind !== k) {
            kind = k;
            block = out.appendChild(h('span', { class: cls }));
        }
        return block;
    };
    return (d) => {
        if (d.error) {
            throw new Error(api.describe(d, 'stream'));
        }
        if (d.usage) {
            st.input = d.usage.prompt_tokens;
            st.output = d.usage.completion_tokens;
        }
        const c = Array.isArray(d.choices) && d.choices[0];
        if (!c) {
            return;
        }
        const x = c.delta || {};
        if (typeof x.reasoning_content === 'string') {
            st.first = st.first || performance.now();
            span('reasoning', 'thinking').appendChild(
                document.createTextNode(x.reasoning_content));
        }
        if (typeof x.content === 'string' && x.content) {
            st.first = st.first || performance.now();
            span('content').appendChild(document.createTextNode(x.content));
        }
        for (const t of Array.isArray(x.tool_calls) ? x.tool_calls : []) {
            const f = t.function || {};
            if (!tools[t.index]) {
                tools[t.index] = true;
                kind = '';
                span(`tool${t.index}`).textContent = `[tool ${f.name}] `;
            }
            if (typeof f.arguments === 'string') {
                block.appendChild(document.createTextNode(f.arguments));
            }
        }
        st.stop = c.finish_reason || st.stop;
    };
}

function requestOf(dialect, model, prompt) {
    const messages = [{ role: 'user', content: prompt }];
    return dialect === 'openai'
        ? { model, stream: true, stream_options: { include_usage: true },
            messages }
        : { model, max_tokens: 1024, stream: true, messages };
}

async function send() {
    const out = $('chat-out');
    const meta = $('chat-meta');
    const account = $('chat-account').value.trim();
    const dialect = $('chat-dialect').value;
    const body = requestOf(dialect,
                           $('chat-model').value.trim() || 'claude-sonnet-4-5',
                           $('chat-prompt').value);
    clear(out);
    meta.textContent = 'Sending\u2026';
    meta.className = 'muted';
    controller = new AbortController();
    $('chat-send').disabled = true;
    $('chat-stop').disabled = false;
    const t0 = performance.now();
    const st = { first: null, input: undefined, output: undefined, stop: '' };
    const read = dialect === 'openai' ? openaiReader(out, st)
        : claudeReader(out, st);
    try {
        const q = new URLSearchParams({ dialect });
        if (account) {
            q.set('account_id', account);
        }
        const res = await api.raw('POST', `v2/chat/test?${q}`, body,
                                  controller.signal);
        if (!res.ok || !/event-stream/.test(res.headers.get('Content-Type') || '')) {
            const b = await res.json().catch(() => null);
            throw new Error(`${res.status}: ${api.describe(b, res.status)}`);
        }
        for await (const ev of events(res.body)) {
            if (ev.data === '[DONE]') {
                break;
            }
            let d;
            try {
                d = JSON.parse(ev.data);
            } catch {
                continue;
            }
            read(d);
        }
        const ms = Math.round(performance.now() - t0);
        meta.textContent = `${st.stop || 'ended'} \u00b7 ${st.input ?? '?'} in, `
            + `${st.output ?? '?'} out \u00b7 first token `
            + `${st.first ? Math.round(st.first - t0) : '?'} ms, total ${ms} ms`
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
