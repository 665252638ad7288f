#!/usr/bin/env python3
"""Opens an rtprec report from disk (file://) in headless Chromium and checks it.

usage: report_browser.py REPORT.html [--screenshot OUT.png]
Prints one JSON object: console errors and page errors, each `svg[data-plot]`
with its declared and drawn points, each media element with its readyState and
error. Exit 0 when the page loaded with no console error, every plot has data
and every media element has its metadata without error; 1 otherwise.
"""
import json, pathlib, sys
from playwright.sync_api import sync_playwright

page_path = pathlib.Path(sys.argv[1]).resolve()
shot = sys.argv[sys.argv.index("--screenshot") + 1] if "--screenshot" in sys.argv else None

CHECK = """() => ({
  plots: Array.from(document.querySelectorAll('svg[data-plot]')).map(s => ({
    plot: s.dataset.plot,
    declared: Number(s.dataset.points),
    drawn: Array.from(s.querySelectorAll('polyline')).reduce((n, p) => n + p.points.numberOfItems, 0)
         + s.querySelectorAll('rect.track, rect.presence').length,
  })),
  media: Array.from(document.querySelectorAll('audio, video')).map(m => ({
    src: m.getAttribute('src'), tag: m.tagName.toLowerCase(), readyState: m.readyState,
    duration: m.duration, error: m.error ? m.error.code + ' ' + m.error.message : null,
  })),
})"""

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium")
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append("console: " + m.text))
    page.on("pageerror", lambda e: errors.append("page: " + str(e)))
    # Chromium aborts a media request once preload="metadata" has what it needs
    # (net::ERR_ABORTED): not a failure. Any other failed request is (a missing file).
    page.on("requestfailed", lambda r: r.failure != "net::ERR_ABORTED"
            and errors.append("request failed: %s (%s)" % (r.url, r.failure)))
    page.goto(page_path.as_uri(), wait_until="load")
    # Media elements load their metadata after `load`: wait until each has it or failed.
    try:
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('audio, video')).every(m => m.readyState >= 1 || m.error)",
            timeout=20000)
    except Exception as e:
        errors.append("media did not load: " + str(e).splitlines()[0])
    result = page.evaluate(CHECK)
    if shot:
        # Let videos paint a first frame rather than a spinner.
        page.wait_for_timeout(1000)
        page.screenshot(path=shot, full_page=True)
    browser.close()

result["errors"] = errors
ok = (not errors and result["plots"] and result["media"]
      and all(pl["declared"] > 0 and pl["drawn"] > 0 for pl in result["plots"])
      and all(m["readyState"] >= 1 and m["error"] is None for m in result["media"]))
result["ok"] = bool(ok)
print(json.dumps(result, indent=1))
sys.exit(0 if ok else 1)
