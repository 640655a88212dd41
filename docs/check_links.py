"""Check the links of the built HTML documentation.

Every internal link of every page is checked: an ``href`` must name a file of the site
(a folder stands for its ``index.html``), a ``#fragment`` must name an element ``id`` (or an
``<a name>``) of the target page, and the ``src`` of images, scripts and other assets must
exist. External links (``http``, ``https``) are listed, not fetched, unless ``--external``
is given. The exit status is 1 when a link is broken, with the list of broken links.

Usage, from the repository root after ``make docs``::

    python docs/check_links.py                     # docs/_build/html
    python docs/check_links.py path/to/html --external

Only the standard library is used, so the check runs wherever the site was built.
"""

import argparse
import concurrent.futures
import sys
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_SITE = Path(__file__).resolve().parent / "_build" / "html"

# The attributes that load or link to another resource, by tag.
LINK_ATTRIBUTES = {
    "a": ("href",),
    "area": ("href",),
    "link": ("href",),
    "img": ("src",),
    "script": ("src",),
    "iframe": ("src",),
    "source": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "track": ("src",),
    "object": ("data",),
}
# Schemes that name no file to check and no page to fetch.
IGNORED_SCHEMES = {"mailto", "javascript", "data", "tel", "about", "blob"}
EXTERNAL_SCHEMES = {"http", "https"}
# Folders of a Sphinx site that hold assets, not pages (the theme copies templates there).
ASSET_FOLDERS = {"_static", "_sources", "_downloads", "_images", ".doctrees"}


@dataclass(frozen=True)
class Link:
    """One link found on a page: where it is and what it points to."""

    page: Path
    line: int
    tag: str
    attribute: str
    url: str

    def where(self, site):
        """The link as ``page:line <tag attribute="url">``, the page relative to ``site``."""
        page = self.page.relative_to(site).as_posix()
        return f'{page}:{self.line} <{self.tag} {self.attribute}="{self.url}">'


class _PageParser(HTMLParser):
    """Collects the links and the element ids of one HTML page."""

    def __init__(self, page):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.links = []
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        # Old-style anchors: <a name="...">.
        if tag == "a" and values.get("name"):
            self.ids.add(values["name"])
        for attribute in LINK_ATTRIBUTES.get(tag, ()):
            url = values.get(attribute)
            if url is not None:
                line, _ = self.getpos()
                self.links.append(Link(self.page, line, tag, attribute, url.strip()))

    handle_startendtag = handle_starttag


def parse_page(page):
    """The links and the ids of the HTML file ``page``."""
    parser = _PageParser(page)
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser.links, parser.ids


def html_pages(site):
    """Every HTML page under ``site``, sorted; the asset folders are left out."""
    return sorted(
        path for path in site.rglob("*.html")
        if path.is_file() and path.relative_to(site).parts[0] not in ASSET_FOLDERS
    )


def _target_file(link, site):
    """The file that an internal link points to, or the reason it points to none."""
    path = unquote(urlsplit(link.url).path)
    if not path:
        return link.page, None
    target = (site / path.lstrip("/")) if path.startswith("/") else (link.page.parent / path)
    target = target.resolve()
    if not target.is_relative_to(site):
        return None, "points outside the site"
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return None, f"no such file: {target.relative_to(site).as_posix()}"
    return target, None


def check_site(site):
    """Check every internal link of the site; collect its external links.

    Parameters
    ----------
    site : pathlib.Path
        The folder of the built HTML site.

    Returns
    -------
    broken : list of (Link, str)
        The broken internal links and the assets loaded from the network, each with the
        reason.
    external : dict of str to list of Link
        Each external URL (without its fragment) and the links that point to it.
    n_checked : int
        How many internal links were checked.
    n_pages : int
        How many pages were read.
    """
    site = site.resolve()
    pages = html_pages(site)
    links, ids = {}, {}
    for page in pages:
        links[page], ids[page] = parse_page(page)

    broken, external, n_checked = [], defaultdict(list), 0
    for page in pages:
        for link in links[page]:
            parts = urlsplit(link.url)
            scheme = parts.scheme.lower()
            if scheme in IGNORED_SCHEMES or (link.url in ("", "#") and link.tag == "a"):
                continue
            if scheme in EXTERNAL_SCHEMES or link.url.startswith("//"):
                if link.tag != "a" and link.tag != "area":
                    # A script, style sheet, image or frame from the network: the pages must
                    # read offline, so an asset is a broken link, not a listed one.
                    broken.append((link, "an asset loaded from the network"))
                    continue
                external[link.url.split("#", 1)[0]].append(link)
                continue
            if scheme:
                broken.append((link, f"unknown scheme {scheme!r}"))
                continue
            n_checked += 1
            target, reason = _target_file(link, site)
            if reason is not None:
                broken.append((link, reason))
                continue
            fragment = unquote(parts.fragment)
            if not fragment or target.suffix != ".html":
                continue
            if target not in ids:
                # An HTML file in an asset folder: read only when a link points into it.
                links[target], ids[target] = parse_page(target)
            if fragment not in ids[target]:
                name = target.relative_to(site).as_posix()
                broken.append((link, f"no element with id {fragment!r} on {name}"))
    return broken, dict(external), n_checked, len(pages)


def fetch_status(url, timeout):
    """The HTTP status of ``url`` (HEAD, then GET where HEAD is refused), or the error."""
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(
            url, method=method, headers={"User-Agent": "skreg-docs-link-check"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, None
        except urllib.error.HTTPError as error:
            # Some servers refuse HEAD (405) or answer it wrongly; GET settles it.
            if method == "HEAD" and error.code in (403, 405, 501):
                continue
            return error.code, f"HTTP {error.code}"
        except (urllib.error.URLError, OSError, ValueError) as error:
            return None, str(getattr(error, "reason", error))
    return None, "no answer"


def check_external(urls, timeout, workers=8):
    """The external URLs that do not answer with a success status, each with the error."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        statuses = dict(zip(urls, pool.map(lambda url: fetch_status(url, timeout), urls)))
    return {url: error for url, (_, error) in statuses.items() if error is not None}


def _parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "site", nargs="?", type=Path, default=DEFAULT_SITE,
        help="the built HTML site (default: docs/_build/html)",
    )
    parser.add_argument(
        "--external", action="store_true",
        help="also fetch every external link (needs network access)",
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0,
        help="seconds to wait for each external link with --external (default: 5)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Check the site; print the broken links and the external ones; return the status."""
    arguments = _parse_arguments(argv)
    site = arguments.site.resolve()
    if not site.is_dir() or not (site / "index.html").is_file():
        print(f"error: {site} is not a built HTML site (no index.html); run `make docs`",
              file=sys.stderr)
        return 2
    broken, external, n_checked, n_pages = check_site(site)

    print(f"External links ({len(external)}, not fetched unless --external):")
    for url, found in sorted(external.items()):
        print(f"  {url}  ({len(found)} link{'s' if len(found) > 1 else ''})")

    failed_external = {}
    if arguments.external:
        failed_external = check_external(sorted(external), arguments.timeout)
        for url, error in sorted(failed_external.items()):
            broken.extend((link, f"external link failed: {error}") for link in external[url])

    if broken:
        print(f"\nBroken links ({len(broken)}):")
        for link, reason in broken:
            print(f"  {link.where(site)}: {reason}")
    print(
        f"\n{n_pages} pages, {n_checked} internal links checked, {len(broken)} broken, "
        f"{len(external)} external URLs"
        + (f" fetched, {len(failed_external)} failed" if arguments.external else "")
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
