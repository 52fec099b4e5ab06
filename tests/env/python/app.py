"""Kestrel test app (Python): a small shop service on 127.0.0.1:8080.

It imports requests (which imports urllib3, idna, chardet and certifi) and
Pillow, and decodes a JPEG at start so Pillow's vendored shared libraries
(site-packages/Pillow.libs/libjpeg-*.so...) are mapped into the process.
It never imports django or jinja2, although both are installed in the same
venv: tests of runtime-aware risk rely on that difference.

When it is serving it writes a ready file (KESTREL_READY_FILE, default
/tmp/kestrel-ready.json) naming the distributions it has loaded, so that a
test can wait for it and compare with what the build recorded.
"""

import http.server
import importlib.metadata
import io
import json
import os
import signal
import sys

import requests
from PIL import Image

HOST = "127.0.0.1"
PORT = 8080
READY_FILE = os.environ.get("KESTREL_READY_FILE", "/tmp/kestrel-ready.json")
NODE_ITEMS_URL = "http://127.0.0.1:3000/items"


def thumbnail_png():
    """Round-trips a picture through JPEG (libjpeg) and PNG (zlib)."""
    picture = Image.new("RGB", (64, 48), (200, 40, 30))
    jpeg = io.BytesIO()
    picture.save(jpeg, "JPEG", quality=80)
    jpeg.seek(0)
    decoded = Image.open(jpeg)
    decoded.load()
    png = io.BytesIO()
    decoded.thumbnail((32, 24))
    decoded.save(png, "PNG")
    return png.getvalue()


def loaded_distributions():
    """The installed distributions that own a module in sys.modules."""
    owners = importlib.metadata.packages_distributions()
    names = set()
    for module in list(sys.modules):
        names.update(owners.get(module.split(".", 1)[0], []))
    loaded = []
    for name in sorted(names, key=str.lower):
        dist = importlib.metadata.distribution(name)
        loaded.append({"name": dist.metadata["Name"], "version": dist.version})
    return loaded


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            self.reply(200, "text/plain", b"ok\n")
        elif self.path == "/thumbnail.png":
            self.reply(200, "image/png", thumbnail_png())
        elif self.path == "/items":
            # Crosses the pod's loopback to the node container.
            items = requests.get(NODE_ITEMS_URL, timeout=5).json()
            self.reply(200, "application/json", json.dumps(items).encode())
        else:
            self.reply(404, "text/plain", b"not found\n")

    def reply(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("python-app: " + (format % args) + "\n")


def write_ready():
    report = {
        "app": "python",
        "pid": os.getpid(),
        "uid": os.getuid(),
        "loaded": loaded_distributions(),
    }
    partial = READY_FILE + ".partial"
    with open(partial, "w") as out:
        json.dump(report, out)
    os.rename(partial, READY_FILE)


def main():
    # As PID 1 of its container the process ignores SIGTERM unless it handles it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    thumbnail_png()
    server = http.server.ThreadingHTTPServer((HOST, PORT), Handler)
    write_ready()
    server.serve_forever()


if __name__ == "__main__":
    main()
