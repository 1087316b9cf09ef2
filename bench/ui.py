"""Workbench speed in a real browser (Playwright + Debian Chromium) against a real `assay serve`.

On a 10,000-record classification project: the time to first record (navigation to the
workbench until the record is on screen) and the median time from pressing Enter (submit) to
the next record being on screen, measured inside the page (keydown → DOM change).
Targets: first record ≤ 500 ms, next record ≤ 100 ms.

    .venv/bin/python bench/ui.py [--records 10000] [--submits 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, SHOTS, Server, login  # noqa: E402

WATCH = """() => {
  window.__t = []; window.__down = null;
  addEventListener('keydown', e => { if (e.key === 'Enter') window.__down = performance.now(); }, true);
  const seen = { id: document.querySelector('[data-testid=record]')?.dataset.recordId };
  new MutationObserver(() => {
    const id = document.querySelector('[data-testid=record]')?.dataset.recordId;
    if (id && id !== seen.id) { seen.id = id; if (window.__down != null) { window.__t.push(performance.now() - window.__down); window.__down = null; } }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-record-id'] });
}"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--submits", type=int, default=100)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp))
        try:
            server.user("bench", "annotator")
            schema = {
                "name": "bench-ui",
                "fields": [{"name": "text", "type": "text"}],
                "questions": [{"name": "label", "type": "label", "options": ["a", "b", "c"]}],
            }
            t = time.perf_counter()
            records = [
                {"external_id": f"r{i}", "text": f"Record {i}: " + "lorem ipsum " * 20}
                for i in range(args.records)
            ]
            p = server.project(schema, records)
            print(f"imported {args.records} records in {time.perf_counter() - t:.2f} s")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                page = login(browser, server, "bench")
                firsts = []
                for _ in range(5):
                    page.goto("/#/")
                    page.wait_for_selector("[data-testid=project-row]")
                    t0 = page.evaluate("performance.now()")
                    page.evaluate(f"location.hash = '/p/{p['id']}/work'")
                    page.wait_for_selector("[data-testid=record]")
                    firsts.append(page.evaluate("performance.now()") - t0)
                colds = []
                for _ in range(5):  # a full page load: HTML, bundle, /me, project, next
                    page.goto("about:blank")
                    page.goto(f"/#/p/{p['id']}/work")
                    page.wait_for_selector("[data-testid=record]")
                    colds.append(page.evaluate("performance.now()"))
                page.evaluate(WATCH)
                for _ in range(args.submits):
                    rid = page.locator("[data-testid=record]").get_attribute("data-record-id")
                    page.keyboard.press("1")
                    page.keyboard.press("Enter")
                    page.wait_for_function(
                        "rid => document.querySelector('[data-testid=record]')?.dataset.recordId !== rid",
                        arg=rid,
                    )
                times = page.evaluate("window.__t")
                SHOTS.mkdir(parents=True, exist_ok=True)
                shot = SHOTS / "bench-workbench.png"
                page.screenshot(path=str(shot))
                browser.close()
        finally:
            server.stop()
    first = statistics.median(firsts)
    med = statistics.median(times)
    p95 = sorted(times)[int(len(times) * 0.95) - 1]
    print(
        f"time to first record: median {first:.0f} ms opening the workbench from the home page, "
        f"{statistics.median(colds):.0f} ms on a full page load (target ≤ 500 ms)"
    )
    print(
        f"submit → next record: median {med:.1f} ms, p95 {p95:.1f} ms over {len(times)} submits (target ≤ 100 ms)"
    )
    print(f"screenshot: {shot.relative_to(Path(__file__).resolve().parents[1])}")


if __name__ == "__main__":
    main()
