// Codex CLI (npm @openai/codex, pinned; its native binary) through the
// gateway's /v1/responses with the Amazon Q mock behind it: "codex exec"
// with a custom provider whose wire_api is "responses".  The mock scripts
// the model: a shell-tool round trip (exec_command, whose output goes back
// as a function_call_output) and an apply_patch edit of a file (a freeform
// custom tool: its patch comes back unwrapped as a custom_tool_call, and
// the result as a custom_tool_call_output).
//
// Codex reaches nothing but loopback: its provider is the gateway on
// 127.0.0.1, HOME, CODEX_HOME and TMPDIR are in a temporary directory, and
// every proxy variable points at a closed loopback port, so any other
// connection it tried would fail instead of leaving the machine.  Without
// the binary the tests skip, except under CI=true, where they fail.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
    SKIP, MODEL, GATEWAY_URL, GATEWAY_KEY, mock, freshGateway, upstreamRequests,
    textResponse, toolResponse,
} from './lib/harness.mjs';

const PKG = new URL('./node_modules/@openai/codex/package.json', import.meta.url);
const VERSION = fs.existsSync(PKG) ? JSON.parse(fs.readFileSync(PKG, 'utf8')).version : null;

// the native binary the platform package ships
function codexBinary() {
    const triple = { x64: 'x86_64-unknown-linux-musl', arm64: 'aarch64-unknown-linux-musl' }[process.arch];
    const bin = new URL(`./node_modules/@openai/codex-linux-${process.arch}/vendor/${triple}/bin/codex`,
                        import.meta.url);
    return os.platform() === 'linux' && triple && fs.existsSync(bin) ? bin.pathname : null;
}

const BIN = codexBinary();
const WHY = BIN ? false : 'the @openai/codex native binary is not installed (make e2e-deps)';

// every temporary HOME, removed at the end
const HOMES = [];

function tempHome() {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'q2api-codex-'));
    HOMES.push(d);
    return d;
}

// a port nothing listens on: where a proxy-aware connection would go
const DEAD_PROXY = 'http://127.0.0.1:9';

function run(args, home, cwd) {
    const env = {
        PATH: process.env.PATH,
        HOME: path.join(home, 'home'),
        CODEX_HOME: path.join(home, 'home', '.codex'),
        TMPDIR: path.join(home, 'tmp'),
        Q2API_KEY: GATEWAY_KEY,
        HTTPS_PROXY: DEAD_PROXY, HTTP_PROXY: DEAD_PROXY, ALL_PROXY: DEAD_PROXY,
        https_proxy: DEAD_PROXY, http_proxy: DEAD_PROXY, all_proxy: DEAD_PROXY,
        NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost',
        RUST_LOG: 'error',
    };
    return spawnSync(BIN, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
}

// A fresh HOME with a config.toml for the gateway and a model catalog in
// which our model is gpt-5.5's twin, so that Codex declares apply_patch
// (openai-responses.md 8).
function setup() {
    const home = tempHome();
    const codexHome = path.join(home, 'home', '.codex');
    const work = path.join(home, 'work');
    for (const d of [codexHome, path.join(home, 'tmp'), work]) fs.mkdirSync(d, { recursive: true });

    const models = run(['debug', 'models'], home, work);
    assert.equal(models.status, 0, `codex debug models: ${models.stderr}`);
    const entry = JSON.parse(models.stdout).models.find((m) => m.slug === 'gpt-5.5');
    assert.ok(entry, 'the bundled catalog has gpt-5.5');
    const catalog = path.join(home, 'catalog.json');
    fs.writeFileSync(catalog, JSON.stringify({
        models: [{ ...entry, slug: MODEL, display_name: MODEL, context_window: 200000, max_context_window: 200000 }],
    }));

    fs.writeFileSync(path.join(codexHome, 'config.toml'), `
model = "${MODEL}"
model_provider = "q2api"
model_catalog_json = "${catalog}"

[model_providers.q2api]
name = "q2api"
base_url = "${GATEWAY_URL}/v1"
env_key = "Q2API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[features]
unbounded_connection_retries = false
`);
    return { home, work };
}

function exec(prompt, s) {
    return run(['exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox',
                '-o', path.join(s.home, 'last.txt'), prompt], s.home, s.work);
}

function lastMessage(s) {
    return fs.readFileSync(path.join(s.home, 'last.txt'), 'utf8').trim();
}

function requestInput(rec) {
    return rec.json.conversationState;
}

describe(`codex ${VERSION ?? '(not installed)'}`, { skip: SKIP }, () => {
    after(() => {
        for (const d of HOMES) fs.rmSync(d, { recursive: true, force: true });
    });

    test('the binary is there (CI=true requires it)', { skip: !WHY || process.env.CI === 'true' ? false : WHY },
         () => {
             assert.ok(BIN, WHY || '');
             const v = run(['--version'], tempHome(), '/');
             assert.equal(v.status, 0);
             assert.equal(v.stdout.trim(), `codex-cli ${VERSION}`);
         });

    test('a shell-tool round trip: exec_command runs, its output goes back', { skip: WHY }, async () => {
        await freshGateway();
        mock([toolResponse({ text: ['Running it.'], id: 'tooluse_sh1', name: 'exec_command',
                             fragments: ['{"cmd":"echo TOOL_', 'TEST_OK"}'] }),
              textResponse('The command printed TOOL_TEST_OK.')]);
        const s = setup();
        const r = exec('run the tool test', s);
        assert.equal(r.status, 0, `codex exec failed:\n${r.stderr}\n${r.stdout}`);
        assert.equal(lastMessage(s), 'The command printed TOOL_TEST_OK.');

        const up = upstreamRequests();
        assert.equal(up.length, 2, 'two turns at the backend');
        const tools = requestInput(up[0]).currentMessage.userInputMessage.userInputMessageContext.tools
            .map((t) => t.toolSpecification.name);
        assert.ok(tools.includes('exec_command'), `Codex declared its shell tool: ${tools}`);
        const second = requestInput(up[1]);
        const uses = second.history.flatMap((h) => h.assistantResponseMessage?.toolUses ?? []);
        assert.deepEqual(uses, [{ toolUseId: 'tooluse_sh1', name: 'exec_command',
                                  input: { cmd: 'echo TOOL_TEST_OK' } }]);
        const results = second.currentMessage.userInputMessage.userInputMessageContext.toolResults;
        assert.equal(results.length, 1);
        assert.equal(results[0].toolUseId, 'tooluse_sh1');
        assert.match(results[0].content[0].text, /Process exited with code 0[\s\S]*TOOL_TEST_OK/);
    });

    test('an apply_patch edit of a file: the freeform patch applies', { skip: WHY }, async () => {
        await freshGateway();
        const patch = '*** Begin Patch\n*** Update File: notes.txt\n@@\n-old line\n+new line from the mock\n'
                    + '*** End Patch\n';
        mock([toolResponse({ id: 'tooluse_p1', name: 'apply_patch',
                             fragments: [JSON.stringify({ input: patch }).slice(0, 30),
                                         JSON.stringify({ input: patch }).slice(30)] }),
              textResponse('Edited notes.txt.')]);
        const s = setup();
        fs.writeFileSync(path.join(s.work, 'notes.txt'), 'first\nold line\nlast\n');
        const r = exec('edit notes.txt', s);
        assert.equal(r.status, 0, `codex exec failed:\n${r.stderr}\n${r.stdout}`);
        assert.equal(fs.readFileSync(path.join(s.work, 'notes.txt'), 'utf8'),
                     'first\nnew line from the mock\nlast\n', 'the patch was applied');
        assert.equal(lastMessage(s), 'Edited notes.txt.');

        const up = upstreamRequests();
        assert.equal(up.length, 2, 'two turns at the backend');
        const spec = requestInput(up[0]).currentMessage.userInputMessage.userInputMessageContext.tools
            .map((t) => t.toolSpecification).find((t) => t.name === 'apply_patch');
        assert.ok(spec, 'Codex declared apply_patch');
        assert.deepEqual(spec.inputSchema.json.required, ['input'], 'as a one-string function');
        const second = requestInput(up[1]);
        const uses = second.history.flatMap((h) => h.assistantResponseMessage?.toolUses ?? []);
        assert.deepEqual(uses, [{ toolUseId: 'tooluse_p1', name: 'apply_patch', input: { input: patch } }],
                         'the custom_tool_call Codex sent back, wrapped again');
        const results = second.currentMessage.userInputMessage.userInputMessageContext.toolResults;
        assert.equal(results[0].toolUseId, 'tooluse_p1');
        assert.match(results[0].content[0].text, /Success\. Updated the following files:\nM notes\.txt/);
    });
});
