#!/usr/bin/env python3
"""Three package registries on one TLS port, as pip, npm and cargo expect them, each
holding one package `cordon-probe` 0.1.0 built at start-up:

  pypi.acme.test      a PEP 503 simple index and a wheel (hash in the link)
  registry.acme.test  an npm registry: the packument and a tarball with its integrity
  crates.acme.test    a cargo sparse registry: config.json, the index line (cksum),
                      and the .crate download

The host a request names (`Host`) picks the registry. Every request is appended to the
log file as one JSON line (host, method, path, status), so a test can prove what came.

Usage: registries.py --log FILE --tls-cert PEM --tls-key PEM
(prints `port N` on stdout)
"""
import argparse
import base64
import hashlib
import io
import json
import ssl
import sys
import tarfile
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--log", required=True)
parser.add_argument("--tls-cert", required=True)
parser.add_argument("--tls-key", required=True)
args = parser.parse_args()

NAME, VERSION = "cordon-probe", "0.1.0"
files = {}  # (host, path) -> (content type, bytes)


def tar_gz(members):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def pypi():
    wheel_name = f"cordon_probe-{VERSION}-py3-none-any.whl"
    dist_info = f"cordon_probe-{VERSION}.dist-info"
    members = {
        "cordon_probe/__init__.py": b"VALUE = 1\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: cordon-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for path, data in members.items()
    ) + f"{dist_info}/RECORD,,\n"
    members[f"{dist_info}/RECORD"] = record.encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as wheel:
        for path, data in members.items():
            wheel.writestr(path, data)
    wheel = out.getvalue()
    digest = hashlib.sha256(wheel).hexdigest()
    host = "pypi.acme.test"
    files[(host, f"/files/{wheel_name}")] = ("application/octet-stream", wheel)
    page = f'<!DOCTYPE html><html><body><a href="/files/{wheel_name}#sha256={digest}">{wheel_name}</a></body></html>'
    files[(host, f"/simple/{NAME}/")] = ("text/html", page.encode())


def npm():
    host = "registry.acme.test"
    package = json.dumps({"name": NAME, "version": VERSION, "main": "index.js"}).encode()
    tarball = tar_gz({"package/package.json": package, "package/index.js": b"module.exports = 1;\n"})
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    path = f"/tarballs/{NAME}-{VERSION}.tgz"
    files[(host, path)] = ("application/octet-stream", tarball)
    packument = {
        "name": NAME,
        "dist-tags": {"latest": VERSION},
        "versions": {VERSION: {
            "name": NAME, "version": VERSION, "main": "index.js",
            "dist": {"tarball": f"https://{host}{path}", "integrity": integrity,
                     "shasum": hashlib.sha1(tarball).hexdigest()},
        }},
    }
    files[(host, f"/{NAME}")] = ("application/json", json.dumps(packument).encode())


def crates():
    host = "crates.acme.test"
    manifest = f'[package]\nname = "{NAME}"\nversion = "{VERSION}"\nedition = "2021"\n'.encode()
    crate = tar_gz({
        f"{NAME}-{VERSION}/Cargo.toml": manifest,
        f"{NAME}-{VERSION}/src/lib.rs": b"pub const VALUE: u32 = 1;\n",
    })
    files[(host, f"/dl/{NAME}/{VERSION}/download")] = ("application/octet-stream", crate)
    config = {"dl": f"https://{host}/dl/{{crate}}/{{version}}/download"}
    files[(host, "/index/config.json")] = ("application/json", json.dumps(config).encode())
    line = {"name": NAME, "vers": VERSION, "deps": [], "features": {},
            "cksum": hashlib.sha256(crate).hexdigest(), "yanked": False}
    files[(host, f"/index/{NAME[:2]}/{NAME[2:4]}/{NAME}")] = ("text/plain", json.dumps(line).encode() + b"\n")


pypi()
npm()
crates()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        path = self.path.split("?")[0]
        found = files.get((host, path))
        status = 200 if found else 404
        with open(args.log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"host": host, "method": "GET", "path": path, "status": status}) + "\n")
        content_type, body = found or ("text/plain", b"not found\n")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer.request_queue_size = 1024
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(args.tls_cert, args.tls_key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"port {server.server_address[1]}", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
