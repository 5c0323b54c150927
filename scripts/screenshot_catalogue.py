"""Build the catalogue page from Parquet exports and save a screenshot of its top part.

    .venv/bin/python scripts/screenshot_catalogue.py [exports_dir] [--out docs/catalogue-page.png]

exports_dir defaults to /tmp/catdemo/exports, made by
`SONOHARVEST_HOME=/tmp/catdemo sonoharvest -q run --demo`. The page is built into a temporary
folder (the exports are not touched) and shot at 1280x1000 with Debian's Chromium
(/usr/bin/chromium) through Playwright; no browser is downloaded.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from sonoharvest.catalogue_page import build_catalogue

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports_dir", nargs="?", type=Path, default=Path("/tmp/catdemo/exports"))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "catalogue-page.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--expand", type=int, default=1,
                        help="open the details of this many top rows (default 1)")
    parser.add_argument("--full-page", action="store_true", help="shoot the whole page")
    args = parser.parse_args(argv)

    if not CHROMIUM.exists():
        print(f"error: {CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="catalogue-shot-") as tmp:
        index = build_catalogue(args.exports_dir, Path(tmp) / "catalogue")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": args.width, "height": args.height})
                page.goto(index.as_uri())
                page.wait_for_selector("html.ready")
                toggles = page.locator("#rows tr.entity button.toggle")
                for i in range(min(args.expand, toggles.count())):
                    toggles.nth(i).click()
                page.evaluate("window.scrollTo(0, 0); document.activeElement.blur()")
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), full_page=args.full_page)
            finally:
                browser.close()
    print(f"wrote {args.out} from {args.exports_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
