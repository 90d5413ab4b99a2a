#!/usr/bin/env python3
"""A small MCP stdio server that reports what its sandbox lets it do, for the tests of
sandboxed MCP servers: fetch a URL (through the proxy variables, as most HTTP clients
do), read or write a file, read an environment variable. Every answer is text; a
failure is the error's name, never an exception.
"""

import json
import os
import sys
import urllib.error
import urllib.request

TOOLS = [
    {"name": "fetch", "description": "GET a URL", "inputSchema": {"type": "object", "properties": {"url": {"type": "string"}, "bearer_env": {"type": "string"}}}},
    {"name": "read", "description": "read a file", "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}}},
    {"name": "write", "description": "write a file", "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}, "text": {"type": "string"}}}},
    {"name": "env", "description": "an environment variable", "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}}},
]


def fetch(url, bearer_env=None):
    request = urllib.request.Request(url)
    if bearer_env:
        # As an API client does: the token from its environment (inside a sandbox,
        # the phantom the gateway swaps for the real one).
        request.add_header("Authorization", "Bearer " + os.environ.get(bearer_env, ""))
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return f"{r.status} {r.read().decode(errors='replace')}"
    except urllib.error.HTTPError as e:
        return f"{e.code} {e.read().decode(errors='replace')}"
    except Exception as e:  # the test reads the failure's name
        return f"error {type(e).__name__}: {e}"


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as e:
        return f"error {type(e).__name__}"


def write(path, text):
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return "ok"
    except OSError as e:
        return f"error {type(e).__name__}"


def call(name, args):
    if name == "fetch":
        return fetch(args.get("url", ""), args.get("bearer_env"))
    if name == "read":
        return read(args.get("path", ""))
    if name == "write":
        return write(args.get("path", ""), args.get("text", ""))
    if name == "env":
        return os.environ.get(args.get("name", ""), "")
    return None


for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if "id" not in msg or "method" not in msg:
        continue
    method, mid = msg["method"], msg["id"]
    if method == "initialize":
        result = {
            "protocolVersion": msg.get("params", {}).get("protocolVersion", "2025-06-18"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fetcher", "version": "1"},
        }
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        params = msg.get("params", {})
        text = call(params.get("name"), params.get("arguments") or {})
        if text is None:
            result = {"content": [{"type": "text", "text": f"MCP error -32602: Tool {params.get('name')} not found"}], "isError": True}
        else:
            result = {"content": [{"type": "text", "text": text}]}
    else:
        reply = {"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "Method not found"}}
        print(json.dumps(reply), flush=True)
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": mid, "result": result}), flush=True)
