"""Screenshots of every page of the built documentation, and a check of its figures.

Each HTML page of the site is opened in headless Chromium with a window 1280 CSS pixels
wide and saved as a full-page PNG (the page's own height) under the output folder, in the
site's folder structure. On each page the script also measures

* every ``<img>`` of the page's content: its displayed width against its natural width. A
  figure is flagged when it is shown below ``--min-scale`` (60 %) of its natural width, or
  narrower than ``--min-width`` (500 px) when its natural width is larger: its text is then
  smaller than the figure's author drew it. Gallery thumbnails are listed but not flagged;
* every box of the content whose text is wider than the box (a code cell or a printed
  output that has to be scrolled, so a reader, and the screenshot, sees it cut off);
* every table whose font is smaller than ``--min-font`` (12 px).

``summary.md`` (and ``summary.json``, the same measurements) next to the screenshots lists
the pages, the figures' scales and the flags. The exit status is 1 when something is
flagged, 2 when the site or Chromium is missing.

Chromium is driven through its DevTools protocol over a pipe, so the script needs nothing
but the standard library and a Chromium binary (Debian: ``apt-get install chromium``)::

    python docs/screenshots.py                        # docs/_build/html -> _build/screenshots
    python docs/screenshots.py --only "user_guide/*" --chromium /usr/bin/chromium
"""

import argparse
import base64
import fcntl
import fnmatch
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
DEFAULT_SITE = DOCS / "_build" / "html"
DEFAULT_OUTPUT = DOCS / "_build" / "screenshots"
WIDTH = 1280
# The height of the window while a page loads and is measured; the screenshot has the
# page's full height.
WINDOW_HEIGHT = 800
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Chromium on a closed network: without the background-networking flags its connections
# to Google's services fail and delay the start; a new empty profile for every run.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--force-device-scale-factor=1", "--remote-debugging-pipe",
)
# Folders of the built site that hold assets, not pages.
ASSET_FOLDERS = {"_static", "_sources", "_downloads", "_images", "_modules"}

# Runs in the page once it has loaded: waits for the fonts, MathJax and the images, then
# measures the content (the theme's <main>; the whole body on other pages).
MEASURE = r"""
(async () => {
  const settle = (promise) => Promise.race([promise, new Promise(r => setTimeout(r, 10000))]);
  await settle(document.fonts.ready);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await settle(MathJax.startup.promise);
  }
  await settle(Promise.all(Array.from(document.images, img => img.complete ? null :
    new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); }))));
  const content = document.querySelector('main') || document.body;
  const describe = (el) => el.tagName.toLowerCase() + (el.className && typeof el.className
    === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  const images = Array.from(content.querySelectorAll('img'), img => {
    const box = img.getBoundingClientRect();
    return {src: img.getAttribute('src') || '', alt: img.alt || '',
            natural_width: img.naturalWidth, natural_height: img.naturalHeight,
            width: Math.round(box.width), height: Math.round(box.height),
            thumbnail: !!img.closest('.sphx-glr-thumbcontainer, .sphx-glr-thumbnails')};
  });
  const wide = [];
  for (const el of content.querySelectorAll('*')) {
    // Scroll boxes, and code or output that another box cuts off (the theme's links to
    // the previous and next page clip their titles on purpose).
    const overflow = getComputedStyle(el).overflowX;
    if (!['auto', 'scroll'].includes(overflow) && !(el.tagName === 'PRE' && overflow !==
        'visible')) continue;
    if (el.scrollWidth <= el.clientWidth + 1 || el.clientWidth === 0) continue;
    const longest = (el.innerText || '').split('\n').reduce(
      (a, b) => b.trimEnd().length > a.length ? b.trimEnd() : a, '');
    wide.push({element: describe(el), box_width: el.clientWidth, content_width: el.scrollWidth,
               top: Math.round(el.getBoundingClientRect().top + window.scrollY),
               output: !!el.closest('.sphx-glr-script-out'), longest_line: longest.length,
               text: longest.trim().slice(0, 70)});
  }
  const tables = Array.from(content.querySelectorAll('table'), table => ({
    columns: Math.max(0, ...Array.from(table.rows, row => row.cells.length)),
    font_px: parseFloat(getComputedStyle(table).fontSize),
    width: Math.round(table.getBoundingClientRect().width),
    caption: (table.caption ? table.caption.innerText : (table.rows[0] ?
      table.rows[0].innerText : '')).replace(/\s+/g, ' ').trim().slice(0, 70)}));
  return {title: document.title, height: document.documentElement.scrollHeight,
          page_width: document.documentElement.scrollWidth, images, wide, tables};
})()
"""


class DevTools:
    """A Chromium started with ``--remote-debugging-pipe`` and its DevTools protocol.

    Messages are JSON objects, each followed by a NUL byte, written to the browser's file
    descriptor 3 and read from its file descriptor 4.
    """

    def __init__(self, chromium, timeout=60.0):
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="skreg-docs-chromium-")
        self._log = tempfile.TemporaryFile()
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def _browser_fds():
            # In the child: the pipe's ends become descriptors 3 and 4, as Chromium expects;
            # moved above 10 first so that one does not overwrite the other.
            high_in = fcntl.fcntl(to_browser, fcntl.F_DUPFD, 10)
            high_out = fcntl.fcntl(from_browser, fcntl.F_DUPFD, 10)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)
            os.close(high_in)
            os.close(high_out)

        self.process = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}",
             f"--window-size={WIDTH},{WINDOW_HEIGHT}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            preexec_fn=_browser_fds, close_fds=False,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = bytearray()
        self._events = []
        self._next_id = 0

    def call(self, method, session=None, **params):
        """Send one command and return its result; raise RuntimeError on an error reply."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._write, data):]
        while True:
            reply = self._receive()
            if reply.get("id") != self._next_id:
                self._events.append(reply)
                continue
            if "error" in reply:
                raise RuntimeError(f"{method} failed: {reply['error'].get('message')}")
            return reply.get("result", {})

    def wait_for(self, event, session):
        """Wait for ``event`` of ``session``; events that arrived before count too."""
        while True:
            for i, message in enumerate(self._events):
                if message.get("method") == event and message.get("sessionId") == session:
                    return self._events.pop(i)
            self._events.append(self._receive())

    def forget_events(self):
        """Drop the events received so far (before a new navigation)."""
        self._events.clear()

    def _receive(self):
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._read], [], [], max(remaining, 0))
            if not ready:
                raise TimeoutError(f"Chromium did not answer within {self.timeout:.0f} s")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe:\n" + self.log_tail())
            self._buffer += chunk
        end = self._buffer.index(b"\0")
        message = json.loads(self._buffer[:end])
        del self._buffer[: end + 1]
        return message

    def log_tail(self, n_lines=15):
        """The last lines Chromium wrote to its standard output and error."""
        self._log.flush()
        self._log.seek(0)
        return "\n".join(self._log.read().decode(errors="replace").splitlines()[-n_lines:])

    def close(self):
        """Close the browser and remove its profile."""
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._read, self._write):
            os.close(fd)
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)


def site_pages(site, only=None):
    """The HTML pages of ``site`` (assets left out), relative, sorted; ``only`` a glob."""
    pages = []
    for path in sorted(site.rglob("*.html")):
        relative = path.relative_to(site)
        if relative.parts[0] in ASSET_FOLDERS:
            continue
        if only is None or fnmatch.fnmatch(relative.as_posix(), only):
            pages.append(relative)
    return pages


def shoot_page(browser, session, site, page, output, max_height):
    """Open ``page``, measure it, save its full-page screenshot; return the measurements."""
    browser.forget_events()
    navigation = browser.call("Page.navigate", session, url=(site / page).as_uri())
    if navigation.get("errorText"):
        raise RuntimeError(f"{page}: {navigation['errorText']}")
    browser.wait_for("Page.loadEventFired", session)
    measured = browser.call(
        "Runtime.evaluate", session, expression=MEASURE, awaitPromise=True, returnByValue=True
    )
    if "exceptionDetails" in measured:
        raise RuntimeError(f"{page}: {measured['exceptionDetails'].get('text')}")
    result = measured["result"]["value"]
    height = min(int(result["height"]), max_height)
    shot = browser.call(
        "Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
    )
    target = output / page.with_suffix(".png")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(base64.b64decode(shot["data"]))
    result.update(page=page.as_posix(), screenshot=target.relative_to(output).as_posix(),
                  screenshot_height=height)
    return result


def flag_page(result, min_scale, min_width, min_font):
    """The readability problems of one measured page, as sentences."""
    flags = []
    for image in result["images"]:
        natural, shown = image["natural_width"], image["width"]
        image["scale"] = shown / natural if natural else None
        if image["thumbnail"] or not natural or not shown:
            continue
        name = image["src"].rsplit("/", 1)[-1]
        if image["scale"] < min_scale:
            flags.append(f"figure {name} shown at {image['scale']:.0%} of its natural width "
                         f"({shown} of {natural} px)")
        elif shown < min_width and natural > shown + 1:
            flags.append(f"figure {name} shown {shown} px wide (natural {natural} px)")
    for box in result["wide"]:
        kind = "printed output" if box["output"] else "content"
        flags.append(f"{kind} wider than its box ({box['content_width']} px in "
                     f"{box['box_width']} px, {box['element']}; longest line, "
                     f"{box['longest_line']} characters: {box['text']!r})")
    for table in result["tables"]:
        if table["font_px"] < min_font:
            flags.append(f"{table['columns']}-column table in a {table['font_px']:.1f} px font: "
                         f"{table['caption']!r}")
    if result["page_width"] > WIDTH:
        flags.append(f"page {result['page_width']} px wide, wider than the window")
    result["flags"] = flags
    return flags


def write_summary(results, output, settings):
    """Write ``summary.md`` and ``summary.json`` into ``output``; return the markdown path."""
    lines = [
        f"# Documentation at {WIDTH} px: screenshots and figure scales", "",
        f"Window {WIDTH} CSS px wide. Figures are flagged below {settings['min_scale']:.0%} of "
        f"their natural width or narrower than {settings['min_width']} px when their natural "
        f"width is larger; tables below a {settings['min_font']:g} px font; boxes whose text "
        "is wider than the box.", "",
    ]
    all_flags = [(r["page"], flag) for r in results for flag in r["flags"]]
    lines += [f"## Flags ({len(all_flags)})", ""]
    lines += [f"- `{page}`: {flag}" for page, flag in all_flags] or ["None."]
    lines += ["", "## Figures", "",
              "| page | figure | natural (px) | displayed (px) | scale | flagged |",
              "|:--|:--|--:|--:|--:|:--|"]
    for r in results:
        for image in r["images"]:
            if image["thumbnail"]:
                continue
            scale = f"{image['scale']:.0%}" if image["scale"] is not None else "-"
            flagged = any(image["src"].rsplit("/", 1)[-1] in f for f in r["flags"])
            lines.append(
                f"| {r['page']} | {image['src'].rsplit('/', 1)[-1]} | {image['natural_width']} "
                f"| {image['width']} | {scale} | {'yes' if flagged else ''} |"
            )
    lines += ["", "## Pages", "", "| page | screenshot | height (px) | figures | flags |",
              "|:--|:--|--:|--:|--:|"]
    for r in results:
        n_figures = sum(not image["thumbnail"] for image in r["images"])
        lines.append(f"| {r['page']} | [{r['screenshot']}]({r['screenshot']}) "
                     f"| {r['height']} | {n_figures} | {len(r['flags'])} |")
    summary = output / "summary.md"
    summary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (output / "summary.json").write_text(
        json.dumps({"settings": settings, "pages": results}, indent=1), encoding="utf-8"
    )
    return summary


def find_chromium(name=None):
    """The Chromium executable: ``name``, else $CHROMIUM, else the first one on the PATH."""
    for candidate in ([name] if name else [os.environ.get("CHROMIUM"), *CHROMIUM_NAMES]):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


def _parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", type=Path, default=DEFAULT_SITE,
                        help="the built HTML site (default: docs/_build/html)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="folder of the screenshots (default: docs/_build/screenshots)")
    parser.add_argument("--only", help="only the pages that match this glob, e.g. 'api/*'")
    parser.add_argument("--chromium", help="the Chromium executable (default: $CHROMIUM, "
                        "else chromium or google-chrome on the PATH)")
    parser.add_argument("--min-scale", type=float, default=0.6,
                        help="flag figures shown below this share of their natural width")
    parser.add_argument("--min-width", type=int, default=500,
                        help="flag figures shown narrower than this (CSS px) when larger")
    parser.add_argument("--min-font", type=float, default=12.0,
                        help="flag tables whose font is smaller (CSS px)")
    parser.add_argument("--max-height", type=int, default=30000,
                        help="cut screenshots of longer pages at this height (CSS px)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for Chromium at each step")
    arguments = parser.parse_args(argv)
    if not 0 < arguments.min_scale <= 1:
        parser.error(f"--min-scale must be in (0, 1], got {arguments.min_scale}")
    return arguments


def main(argv=None):
    """Take the screenshots, write the summary, print the flags; return the exit status."""
    arguments = _parse_arguments(argv)
    site = arguments.site.resolve()
    if not (site / "index.html").is_file():
        print(f"error: {site} is not a built HTML site (no index.html); run `make docs`",
              file=sys.stderr)
        return 2
    chromium = find_chromium(arguments.chromium)
    if chromium is None:
        print("error: no Chromium found; install it (Debian: apt-get install chromium) or "
              "pass --chromium PATH", file=sys.stderr)
        return 2
    pages = site_pages(site, arguments.only)
    if not pages:
        print(f"error: no page of {site} matches {arguments.only!r}", file=sys.stderr)
        return 2
    output = arguments.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    settings = {"width": WIDTH, "min_scale": arguments.min_scale,
                "min_width": arguments.min_width, "min_font": arguments.min_font}

    browser = DevTools(chromium, timeout=arguments.timeout)
    results = []
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)
        session = session["sessionId"]
        browser.call("Page.enable", session)
        browser.call("Emulation.setDeviceMetricsOverride", session, width=WIDTH,
                     height=WINDOW_HEIGHT, deviceScaleFactor=1, mobile=False)
        # A full-page capture resizes the view, which restarts the theme's CSS transitions
        # (the navigation column's width among them): the screenshot would show their
        # start, not the page as measured. Reduced motion turns them off.
        browser.call("Emulation.setEmulatedMedia", session,
                     features=[{"name": "prefers-reduced-motion", "value": "reduce"}])
        for page in pages:
            result = shoot_page(browser, session, site, page, output, arguments.max_height)
            flags = flag_page(result, arguments.min_scale, arguments.min_width,
                              arguments.min_font)
            results.append(result)
            print(f"{page.as_posix()}: {result['height']} px, {len(result['images'])} "
                  f"images, {len(flags)} flags")
            for flag in flags:
                print(f"    {flag}")
    finally:
        browser.close()
    summary = write_summary(results, output, settings)
    n_flags = sum(len(r["flags"]) for r in results)
    print(f"\n{len(results)} pages, {n_flags} flags; screenshots and {summary.name} in {output}")
    return 1 if n_flags else 0


if __name__ == "__main__":
    sys.exit(main())
