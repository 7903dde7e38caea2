"""Request bodies: a short chat turn, and a Claude Code-like turn of
21.5 KB (system prompt, tool definitions, a history with tool use) for
count_tokens."""

import json

MODEL = "claude-sonnet-4-5-20250929"


def chat(stream):
    return json.dumps({
        "model": MODEL,
        "max_tokens": 1024,
        "stream": stream,
        "messages": [{"role": "user",
                      "content": "Read src/main.c and explain what it does."}],
    }).encode()


TOOLS = [
    ("Bash", "Executes a given bash command in a persistent shell session "
     "with optional timeout, ensuring proper handling and security "
     "measures.", {"command": "string", "timeout": "number",
                   "description": "string"}),
    ("Glob", "Fast file pattern matching tool that works with any codebase "
     "size. Returns matching file paths sorted by modification time.",
     {"pattern": "string", "path": "string"}),
    ("Grep", "A powerful search tool built on ripgrep. Supports full regex "
     "syntax, filters files with glob or type parameters.",
     {"pattern": "string", "path": "string", "glob": "string",
      "output_mode": "string", "-i": "boolean", "head_limit": "number"}),
    ("Read", "Reads a file from the local filesystem. You can access any "
     "file directly by using this tool.",
     {"file_path": "string", "offset": "number", "limit": "number"}),
    ("Edit", "Performs exact string replacements in files. You must use "
     "your Read tool at least once before editing.",
     {"file_path": "string", "old_string": "string", "new_string": "string",
      "replace_all": "boolean"}),
    ("Write", "Writes a file to the local filesystem, overwriting the file "
     "if there is one at the path.",
     {"file_path": "string", "content": "string"}),
    ("TodoWrite", "Use this tool to create and manage a structured task "
     "list for your current coding session.",
     {"todos": "array"}),
    ("WebFetch", "Fetches content from a specified URL and processes it "
     "using an AI model.", {"url": "string", "prompt": "string"}),
    ("WebSearch", "Allows Claude to search the web and use the results to "
     "inform responses.", {"query": "string", "allowed_domains": "array"}),
    ("Task", "Launch a new agent to handle complex, multi-step tasks "
     "autonomously.", {"description": "string", "prompt": "string",
                       "subagent_type": "string"}),
]

GUIDANCE = (
    "You are an interactive CLI tool that helps users with software "
    "engineering tasks. Use the instructions below and the tools available "
    "to you to assist the user. IMPORTANT: Assist with defensive security "
    "tasks only. When you make changes to files, first understand the "
    "file's code conventions. Mimic code style, use existing libraries and "
    "utilities, and follow existing patterns. Keep your responses short, "
    "since they will be displayed on a command line interface. ")


def _tool(name, description, props):
    schema = {"type": "object", "additionalProperties": False,
              "$schema": "http://json-schema.org/draft-07/schema#",
              "properties": {}, "required": [next(iter(props))]}
    for p, t in props.items():
        schema["properties"][p] = {"type": t,
                                   "description": "The %s to use" % p}
        if t == "array":
            schema["properties"][p]["items"] = {"type": "string"}
    return {"name": name, "description": description * 3,
            "input_schema": schema}


def _history(turns):
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>As you answer the "
         "user's questions, you can use the following context: the working "
         "directory is /home/user/project.</system-reminder>"},
        {"type": "text", "text": "Find why the build fails and fix it."}]}]
    for i in range(turns):
        tid = "toolu_01Bench%04d" % i
        messages.append({"role": "assistant", "content": [
            {"type": "text", "text": "Let me look at file %d." % i},
            {"type": "tool_use", "id": tid, "name": "Read",
             "input": {"file_path": "/home/user/project/src/f%d.c" % i}}]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tid,
             "content": "     1\t#include <stdio.h>\n     2\tint f%d(void) "
                        "{ return %d; }\n" % (i, i)}]})
    return messages


def claude_code(size=21500):
    """Exactly size bytes: the system prompt is padded to fit."""
    body = {
        "model": MODEL,
        "max_tokens": 32000,
        "stream": True,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's "
             "official CLI for Claude."},
            {"type": "text", "text": "",
             "cache_control": {"type": "ephemeral"}},
        ],
        "tools": [_tool(*t) for t in TOOLS],
        "messages": _history(12),
        "metadata": {"user_id": "user_bench_account_session_0001"},
    }
    short = len(json.dumps(body).encode())
    if short > size:
        raise ValueError("the Claude Code body is %d bytes without its "
                         "system prompt, over %d" % (short, size))
    text = (GUIDANCE * (1 + (size - short) // len(GUIDANCE)))
    body["system"][1]["text"] = text[:size - short]
    data = json.dumps(body).encode()
    assert len(data) == size
    return data
