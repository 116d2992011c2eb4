"""The commands a newcomer runs first: `scripts/run` and `scripts/test` both start with
`scripts/setup`, which must finish (exit 0) when there is nothing to install."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_setup_with_everything_installed_does_nothing_and_succeeds(tmp_path):
    """Without --test, the form scripts/run uses. (--test also checks Debian's packages: on one
    fresh-clone run that check, mid-suite, found them missing and ran apt-get; cause not found.)"""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup", tmp_path / "scripts" / "setup")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / ".venv" / ".installed").touch()  # not older than pyproject.toml: up to date
    done = subprocess.run(["bash", str(tmp_path / "scripts" / "setup")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "installed" not in done.stderr  # nothing was installed
