"""Files that readers see whole: the old one or the new one, never half of either."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def atomic_write(path: Path, data: str, encoding: str = "utf-8") -> None:
    """Write beside the target, then rename over it: readers see the old file or the new one.
    The file is created with the umask's mode (see assistant.evaluation.runs' docstring)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding=encoding, newline="") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
