"""The documentation keeps up with the package: API entries, the tutorial, figure scripts."""

import re
import runpy
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest

import skreg

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_public_name_is_in_the_api_reference():
    api = (DOCS / "api.rst").read_text()
    documented = {line.strip() for line in api.splitlines()}
    missing = [name for name in skreg.__all__ if name not in documented and name != "__version__"]
    assert not missing, f"public names missing from docs/api.rst: {missing}"



def test_getting_started_parts_are_in_the_script_and_its_output():
    # The page cuts the tutorial and its printed output at markers; a marker missing from
    # either file would show the wrong text or stop the build.
    page = (DOCS / "getting_started.rst").read_text()
    script = (DOCS / "getting_started" / "tutorial.py").read_text().splitlines()
    output = (DOCS / "getting_started" / "output.txt").read_text().splitlines()
    names = re.findall(r":start-after: # \[(\w+)\]", page)
    assert names == ["fit", "regularize", "measure", "search", "regress", "save"]
    for name in names:
        assert script.count(f"# [{name}]") == 1, name
        assert output.count(f"[{name}]") == 1, name
        assert f":start-after: [{name}]" in page, name


def test_getting_started_lines_fit_the_page():
    # Longer lines scroll sideways in the page's code blocks on a 1280-pixel window.
    for name in ["tutorial.py", "output.txt"]:
        lines = (DOCS / "getting_started" / name).read_text().splitlines()
        long = [line for line in lines if len(line) > 72]
        assert not long, f"{name}: {long}"


@pytest.mark.parametrize("script", sorted((DOCS / "plots").glob("*.py")), ids=lambda p: p.stem)
def test_plot_scripts_draw_from_the_committed_results(script, monkeypatch):
    # The documentation's plot directive runs these from the repository root.
    matplotlib.use("Agg")
    monkeypatch.chdir(DOCS.parent)
    plt.close("all")
    runpy.run_path(str(script), run_name="__main__")
    figure = plt.gcf()
    width, _ = figure.get_size_inches()
    assert figure.axes and all(ax.has_data() for ax in figure.axes)
    assert width <= 7.6  # wider figures show too small to read in the page's column
    plt.close("all")
