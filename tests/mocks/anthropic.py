#!/usr/bin/env python3
"""A local stand-in for Anthropic's Messages API, for running real Claude Code under
`cordon run` in the tests: `POST /v1/messages` answers with one text block (streamed
as server-sent events when the request asks for a stream, as Claude Code does), in the
API's own shapes (message_start … message_stop). Anything else is 404.

Every request is appended to the log file as one JSON line (method, path, the
`x-api-key` and `Authorization` headers), so a test can check which key arrived.

Usage: anthropic.py --port PORT --log FILE --reply TEXT
"""

import argparse
import json
import socketserver
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--log", required=True)
parser.add_argument("--reply", default="Hello from the mock.")
args = parser.parse_args()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def record(self):
        with open(args.log, "a", encoding="utf-8") as f:
            f.write(json.dumps({
                "method": self.command,
                "path": self.path,
                "x_api_key": self.headers.get("x-api-key"),
                "authorization": self.headers.get("Authorization"),
            }) + "\n")

    def send(self, status, content_type, data):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.record()
        self.send(404, "application/json", b'{"type":"error","error":{"type":"not_found_error","message":"Not found"}}')

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.record()
        if not self.path.split("?")[0] == "/v1/messages":
            return self.send(404, "application/json", b'{"type":"error","error":{"type":"not_found_error","message":"Not found"}}')
        request = json.loads(body or b"{}")
        model = request.get("model", "claude")
        usage = {"input_tokens": 1, "output_tokens": 1}
        if not request.get("stream"):
            message = {"id": "msg_mock", "type": "message", "role": "assistant", "model": model,
                       "content": [{"type": "text", "text": args.reply}],
                       "stop_reason": "end_turn", "stop_sequence": None, "usage": usage}
            return self.send(200, "application/json", json.dumps(message).encode())
        events = [
            ("message_start", {"type": "message_start", "message": {
                "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": args.reply}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta",
                               "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": 1}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        data = "".join(f"event: {name}\ndata: {json.dumps(event)}\n\n" for name, event in events)
        self.send(200, "text/event-stream", data.encode())


class Server(ThreadingHTTPServer):
    request_queue_size = 1024


server = Server(("127.0.0.1", args.port), Handler)
print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
