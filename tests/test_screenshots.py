"""docs/screenshots.py flags figures shown too small and boxes whose text is cut off."""

import json
import shutil
import struct
import zlib
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "screenshots.py"


@pytest.fixture(scope="module")
def screenshots(load_script):
    return load_script(SCRIPT)


def _measured(images=(), wide=(), tables=(), page_width=1280):
    return {"page": "p.html", "images": [dict(image) for image in images], "wide": list(wide),
            "tables": list(tables), "page_width": page_width}


def _image(natural, shown, thumbnail=False):
    return {"src": f"_images/fig_{natural}_{shown}.png", "natural_width": natural,
            "width": shown, "thumbnail": thumbnail}


@pytest.mark.parametrize(
    ("natural", "shown", "flagged"),
    [
        (760, 760, False),  # natural size
        (760, 480, True),   # 63 %, but narrower than 500 px
        (760, 456, True),   # 60 %: not below the scale, below the width
        (1000, 590, True),  # 59 %: below the scale although wider than 500 px
        (1000, 620, False),  # 62 % and wider than 500 px
        (460, 460, False),  # a small figure at its natural size
        (480, 440, True),   # a small figure shown smaller still
    ],
)
def test_figures_are_flagged_below_the_scale_or_the_width(screenshots, natural, shown, flagged):
    result = _measured(images=[_image(natural, shown)])
    flags = screenshots.flag_page(result, min_scale=0.6, min_width=500, min_font=12)
    assert bool(flags) == flagged, flags
    assert result["images"][0]["scale"] == pytest.approx(shown / natural)


def test_thumbnails_wide_boxes_small_tables_and_wide_pages(screenshots):
    result = _measured(
        images=[_image(400, 160, thumbnail=True)],
        wide=[{"element": "pre", "box_width": 700, "content_width": 900, "output": True,
               "longest_line": 110, "text": "model  accuracy"}],
        tables=[{"columns": 11, "font_px": 10.9, "width": 700, "caption": "study"},
                {"columns": 6, "font_px": 14.4, "width": 700, "caption": "scores"}],
        page_width=1400,
    )
    flags = screenshots.flag_page(result, min_scale=0.6, min_width=500, min_font=12)
    assert flags == [
        "printed output wider than its box (900 px in 700 px, pre; longest line, 110 "
        "characters: 'model  accuracy')",
        "11-column table in a 10.9 px font: 'study'",
        "page 1400 px wide, wider than the window",
    ]


def test_the_site_must_exist(screenshots, tmp_path, capsys):
    assert screenshots.main([str(tmp_path)]) == 2
    assert "not a built HTML site" in capsys.readouterr().err


def _png(width, height):
    """A white PNG image of ``width`` x ``height`` pixels."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    rows = b"".join(b"\0" + b"\xff" * (3 * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium")
def test_a_page_is_shot_measured_and_summarized(screenshots, tmp_path):
    site = tmp_path / "html"
    site.mkdir()
    (site / "figure.png").write_bytes(_png(800, 300))
    long_line = "x" * 400
    (site / "index.html").write_text(
        "<!DOCTYPE html><html><body><main>"
        '<img src="figure.png" style="width: 400px">'
        f'<pre style="overflow-x: auto; width: 300px">{long_line}</pre>'
        '<div style="height: 2000px">tall</div></main></body></html>'
    )
    output = tmp_path / "shots"
    assert screenshots.main([str(site), "--output", str(output)]) == 1
    png = (output / "index.png").read_bytes()
    width, height = struct.unpack(">II", png[16:24])
    assert width == 1280 and height > 2000  # the full page, not the window
    page = json.loads((output / "summary.json").read_text())["pages"][0]
    assert page["images"][0]["natural_width"] == 800
    assert page["images"][0]["width"] == 400
    assert page["wide"][0]["box_width"] == 300
    assert page["wide"][0]["longest_line"] == len(long_line)
    summary = (output / "summary.md").read_text()
    assert "| index.html | figure.png | 800 | 400 | 50% | yes |" in summary
