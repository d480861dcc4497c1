#!/usr/bin/env python3
"""Open every exported page in headless Chromium and check it as a reader would see it: the page
loads, every figure is present with a non-zero size, no cell shows an error or a panic, no code line
is cut off at the cell's edge, and the
index links every notebook with a preview. Saves a screenshot of each page into SITE/screenshots/.

Needs Debian's `chromium` (.ci/run installs it). Without it the check is skipped with a message,
except in CI (the `CI` variable set), where a missing browser fails: a skipped check is no check.
"""
import os
import shutil
import sys
from pathlib import Path

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
    "--disable-component-update", "--disable-sync", "--disable-quic",
]
CHECK = """() => {
  const svgs = [...document.querySelectorAll('svg')].map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; });
  const bad = [...document.querySelectorAll('.jp-OutputArea-output, .output_error, .output_stderr')]
      .map(e => e.innerText).filter(t => /panicked at|error\\[E\\d+\\]|Traceback|\\bError:/.test(t));
  const links = [...document.querySelectorAll('a.card')].map(a => a.getAttribute('href'));
  const clipped = [...document.querySelectorAll('.jp-InputArea-editor pre')]
      .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText.split('\\n')[0]);
  return {svgs, bad, links, clipped, title: document.title, cells: document.querySelectorAll('.jp-Cell').length};
}"""


def main():
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "target/site")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        install = "apt-get install chromium (Debian/Ubuntu)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            print(f"browser check FAILED: CI is set and there is no chromium on this machine; install it: {install}", file=sys.stderr)
            return 1
        print(f"browser check skipped: no chromium on this machine ({install})")
        return 0
    from playwright.sync_api import sync_playwright

    pages = sorted(p for p in site.glob("*.html") if p.name != "index.html")
    if not pages:
        print(f"browser check: no pages in {site}", file=sys.stderr)
        return 1
    shots = site / "screenshots"
    shots.mkdir(exist_ok=True)
    failures = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        for path in [site / "index.html", *pages]:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            script_errors = []
            page.on("pageerror", lambda e: script_errors.append(str(e)))
            response = page.goto(path.resolve().as_uri(), wait_until="load")
            report = page.evaluate(CHECK)
            page.screenshot(path=str(shots / f"{path.stem}.png"), full_page=True)
            problems = []
            if response is None or not response.ok:
                problems.append("did not load")
            if not report["svgs"]:
                problems.append("no figure")
            empty = [k for k, (w, h) in enumerate(report["svgs"]) if w <= 0 or h <= 0]
            if empty:
                problems.append(f"figures {empty} have no size")
            if report["bad"]:
                problems.append("a cell shows an error: " + report["bad"][0][:200])
            if report["clipped"]:
                problems.append(f"{len(report['clipped'])} code cells have lines cut off at the edge, first: " + report["clipped"][0][:80])
            if script_errors:
                problems.append("script error: " + script_errors[0])
            if path.name == "index.html" and sorted(report["links"]) != sorted(p.name for p in pages):
                problems.append(f"index links {report['links']}, expected every page")
            status = "ok  " if not problems else "FAIL"
            print(f"{status} {path.name}: {len(report['svgs'])} figures, {report['cells']} cells" + "".join(f"\n     - {m}" for m in problems))
            if problems:
                failures.append(path.name)
            page.close()
        browser.close()
    print(f"browser check: {len(pages) + 1 - len(failures)} passed, {len(failures)} failed; screenshots in {shots}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
