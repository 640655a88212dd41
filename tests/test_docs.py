"""The documentation keeps up with the package: every public name has an API entry, and the
changelog's newest release is the package's one version string."""

import re
from pathlib import Path

import skreg

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_every_public_name_is_in_the_api_reference():
    api = (DOCS / "api.rst").read_text()
    documented = {line.strip() for line in api.splitlines()}
    missing = [name for name in skreg.__all__ if name not in documented and name != "__version__"]
    assert not missing, f"public names missing from docs/api.rst: {missing}"


def test_the_version_is_written_once_and_the_changelog_describes_it():
    pyproject = (ROOT / "pyproject.toml").read_text()
    project_table = pyproject.split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    # No second, static version in the package metadata: it is read from skreg.__version__.
    assert not re.search(r"^version\s*=", project_table, flags=re.MULTILINE)
    assert 'dynamic = ["version"]' in project_table
    assert 'version = { attr = "skreg.__version__" }' in pyproject
    releases = re.findall(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert releases and releases[0] == skreg.__version__, releases
