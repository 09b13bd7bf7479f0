import shutil
from pathlib import Path

import pytest

FIXTURES = Path("/work/shared/fixtures")


@pytest.fixture
def fixtures_copy(tmp_path):
    """A private copy of the shared fixtures."""
    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, target)
    return target
