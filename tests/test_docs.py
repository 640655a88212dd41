"""The documentation keeps up with the package: every public name has an API entry."""

from pathlib import Path

import skreg

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_public_name_is_in_the_api_reference():
    api = (DOCS / "api.rst").read_text()
    documented = {line.strip() for line in api.splitlines()}
    missing = [name for name in skreg.__all__ if name not in documented and name != "__version__"]
    assert not missing, f"public names missing from docs/api.rst: {missing}"

