"""The commands a newcomer runs first: `scripts/run` and `scripts/test` both start with
`scripts/setup`, which must finish (exit 0) when there is nothing to install."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("flags", [[], ["--test"]])
def test_setup_with_everything_installed_does_nothing_and_succeeds(tmp_path, flags):
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup", tmp_path / "scripts" / "setup")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    for stamp in (".installed", ".installed-test"):  # not older than pyproject.toml: up to date
        (tmp_path / ".venv" / stamp).touch()
    done = subprocess.run(["bash", str(tmp_path / "scripts" / "setup"), *flags], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "installed" not in done.stderr  # nothing was installed
