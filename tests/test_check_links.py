"""docs/check_links.py finds the broken links of a built site and only those."""

from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "check_links.py"


@pytest.fixture(scope="module")
def check_links(load_script):
    return load_script(SCRIPT)


def _write_site(root, pages):
    for name, body in pages.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<!DOCTYPE html><html><body>{body}</body></html>\n")
    return root


GOOD_SITE = {
    "index.html": (
        '<a href="guide/page.html#section-1">one</a> <a href="guide/">folder</a>'
        ' <a href="#top">self</a><h1 id="top">Top</h1> <a href="#">button</a>'
        ' <img src="_images/figure.png"> <script src="_static/app.js?digest=ab12"></script>'
        ' <a href="mailto:someone@example.org">mail</a>'
        ' <a href="https://scikit-learn.org/stable/">sklearn</a>'
        ' <a href="https://scikit-learn.org/stable/#top">sklearn again</a>'
    ),
    "guide/index.html": '<a href="../index.html#top">back</a>',
    "guide/page.html": (
        '<section id="section-1"><a name="old-anchor"></a></section>'
        '<a href="page.html#old-anchor">old</a> <a href="my%20file.html">quoted</a>'
    ),
    "guide/my file.html": "<p>a file name with a space</p>",
    # A theme template among the assets is no page: its unrendered links are not checked.
    "_static/macros.html": '<link href="{{ pathto(\'_static/theme.css\', 1) }}">',
}


def test_a_site_without_broken_links_passes(check_links, tmp_path):
    site = _write_site(tmp_path, GOOD_SITE)
    (site / "_images").mkdir()
    (site / "_images" / "figure.png").write_bytes(b"\x89PNG")
    (site / "_static").mkdir(exist_ok=True)
    (site / "_static" / "app.js").write_text("")
    broken, external, n_checked, n_pages = check_links.check_site(site)
    assert broken == []
    assert n_pages == 4
    assert n_checked == 8
    # External links are collected without their fragment, one entry per URL.
    assert list(external) == ["https://scikit-learn.org/stable/"]
    assert len(external["https://scikit-learn.org/stable/"]) == 2
    assert check_links.main([str(site)]) == 0


def test_each_kind_of_broken_link_is_reported_with_its_page_and_line(check_links, tmp_path):
    site = _write_site(tmp_path, {
        "index.html": (
            '<a href="missing.html">a</a>\n<a href="other.html#nowhere">b</a>\n'
            '<img src="_images/gone.png">\n<a href="#no-such-id">c</a>\n'
            '<a href="../../outside.html">d</a>\n<link href="style.css" rel="stylesheet">'
        ),
        "other.html": '<h1 id="somewhere">x</h1>',
    })
    broken, _, _, _ = check_links.check_site(site)
    found = {link.url: (link.line, reason) for link, reason in broken}
    assert found == {
        "missing.html": (1, "no such file: missing.html"),
        "other.html#nowhere": (2, "no element with id 'nowhere' on other.html"),
        "_images/gone.png": (3, "no such file: _images/gone.png"),
        "#no-such-id": (4, "no element with id 'no-such-id' on index.html"),
        "../../outside.html": (5, "points outside the site"),
        "style.css": (6, "no such file: style.css"),
    }
    assert broken[0][0].where(site.resolve()) == 'index.html:1 <a href="missing.html">'


def test_main_lists_the_broken_links_and_fails(check_links, tmp_path, capsys):
    site = _write_site(tmp_path, {"index.html": '<a href="gone.html">x</a>'})
    assert check_links.main([str(site)]) == 1
    printed = capsys.readouterr().out
    assert 'index.html:1 <a href="gone.html">: no such file: gone.html' in printed
    assert "1 pages, 1 internal links checked, 1 broken" in printed


def test_a_folder_without_a_site_is_refused(check_links, tmp_path, capsys):
    assert check_links.main([str(tmp_path)]) == 2
    assert "not a built HTML site" in capsys.readouterr().err


def test_an_unreachable_external_link_is_reported_when_fetched(check_links, tmp_path):
    # Port 9 on the loopback interface (discard) refuses the connection at once.
    site = _write_site(tmp_path, {"index.html": '<a href="http://127.0.0.1:9/page">x</a>'})
    assert check_links.main([str(site)]) == 0
    assert check_links.main([str(site), "--external", "--timeout", "2"]) == 1


def test_an_asset_from_the_network_is_broken_and_a_link_to_it_is_not(check_links, tmp_path):
    site = _write_site(tmp_path, {"index.html": (
        '<script src="https://cdn.example.org/lib.js"></script>\n'
        '<link href="https://cdn.example.org/style.css" rel="stylesheet">\n'
        '<a href="https://example.org/docs">docs</a>'
    )})
    broken, external, _, _ = check_links.check_site(site)
    assert {(link.tag, reason) for link, reason in broken} == {
        ("script", "an asset loaded from the network"),
        ("link", "an asset loaded from the network"),
    }
    assert list(external) == ["https://example.org/docs"]
