#!/usr/bin/env python3
"""Serves the call pages on 127.0.0.1:PORT and waits for their results.

call.html (both peers in one page) POSTs one /results. cross.html runs one
peer per browser: the pages exchange their SDPs through POST/GET
/signal/offer and /signal/answer, and each POSTs /results?peer=A or B; with
PEERS=AB the server waits for both and merges them.

Writes OUTDIR/stats.json, OUTDIR/offer.sdp and OUTDIR/answer.sdp (the offer
and the answer as each peer applied them as remote description, ICE
candidates included), then exits 0. Exits 1 when a page reported an error,
2 when the results did not all come within TIMEOUT seconds.

Usage: serve.py PORT OUTDIR [TIMEOUT [PEERS]]
"""

import http.server
import json
import os
import sys
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = {"/call.html": "text/html", "/cross.html": "text/html", "/page.js": "text/javascript"}


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 60
    peers = sys.argv[4] if len(sys.argv) > 4 else ""
    results, signals = {}, {}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def reply(self, status, body=b"", ctype="text/plain"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = urllib.parse.urlsplit(self.path).path
            if path in FILES:
                with open(os.path.join(HERE, path[1:]), "rb") as f:
                    self.reply(200, f.read(), FILES[path] + "; charset=utf-8")
            elif path.startswith("/signal/"):
                with lock:
                    body = signals.get(path)
                self.reply(204) if body is None else self.reply(200, body)
            else:
                self.send_error(404)

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.reply(204)
            if url.path == "/log":  # a page's progress, for debugging
                sys.stderr.write("page: " + body.decode(errors="replace") + "\n")
            elif url.path.startswith("/signal/"):
                with lock:
                    signals[url.path] = body
            elif url.path == "/results":
                result = json.loads(body)
                peer = urllib.parse.parse_qs(url.query).get("peer", [""])[0]
                with lock:
                    results.setdefault(peer, result)
                    complete = "error" in result or all(p in results for p in peers or [""])
                if complete:
                    threading.Thread(target=server.shutdown).start()

        def log_message(self, fmt, *args):
            sys.stderr.write("serve: " + fmt % args + "\n")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    timer = threading.Timer(timeout, server.shutdown)
    timer.start()
    print(f"serve: listening on http://127.0.0.1:{port}/", file=sys.stderr, flush=True)
    server.serve_forever()
    timer.cancel()

    errors = [r["error"] for r in results.values() if "error" in r]
    if errors:
        print(f"serve: error: a page failed: {errors[0]}", file=sys.stderr)
        sys.exit(1)
    if not all(p in results for p in peers or [""]):
        print(f"serve: error: no results from {peers or 'the page'} within {timeout:g} s "
              f"(got {sorted(results) or 'none'})", file=sys.stderr)
        sys.exit(2)
    if peers:
        # One peer per page: merge into the shape call.html posts.
        result = {
            "userAgent": {p: results[p]["userAgent"] for p in peers},
            "outbound": [row for p in peers for row in results[p]["outbound"]],
            "sdp": {p: results[p]["sdp"] for p in peers},
            "stats": {p: results[p]["stats"] for p in peers},
        }
    else:
        result = results[""]
    with open(os.path.join(out, "stats.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(out, "offer.sdp"), "w") as f:
        f.write(result["sdp"]["B"]["remote"])
    with open(os.path.join(out, "answer.sdp"), "w") as f:
        f.write(result["sdp"]["A"]["remote"])
    print(f"serve: results written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
