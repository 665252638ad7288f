#!/usr/bin/env python3
"""Serves call.html on 127.0.0.1:PORT and waits for the page's POST /results.

Writes OUTDIR/stats.json, OUTDIR/offer.sdp and OUTDIR/answer.sdp (the offer
and the answer as each peer applied them as remote description, ICE
candidates included), then exits 0. Exits 1 when the page reported an
error, 2 when no result came within TIMEOUT seconds.

Usage: serve.py PORT OUTDIR [TIMEOUT]
"""

import http.server
import json
import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 60
    done = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] != "/call.html":
                self.send_error(404)
                return
            with open(os.path.join(HERE, "call.html"), "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.end_headers()
            if self.path == "/log":  # the page's progress, for debugging
                sys.stderr.write("page: " + body.decode(errors="replace") + "\n")
            elif self.path == "/results" and "result" not in done:
                done["result"] = json.loads(body)
                threading.Thread(target=server.shutdown).start()

        def log_message(self, fmt, *args):
            sys.stderr.write("serve: " + fmt % args + "\n")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    timer = threading.Timer(timeout, server.shutdown)
    timer.start()
    print(f"serve: listening on http://127.0.0.1:{port}/call.html", file=sys.stderr, flush=True)
    server.serve_forever()
    timer.cancel()

    result = done.get("result")
    if result is None:
        print(f"serve: error: no result from the page within {timeout:g} s", file=sys.stderr)
        sys.exit(2)
    if "error" in result:
        print(f"serve: error: the page failed: {result['error']}", file=sys.stderr)
        sys.exit(1)
    with open(os.path.join(out, "stats.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(out, "offer.sdp"), "w") as f:
        f.write(result["sdp"]["B"]["remote"])
    with open(os.path.join(out, "answer.sdp"), "w") as f:
        f.write(result["sdp"]["A"]["remote"])
    print(f"serve: results written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
