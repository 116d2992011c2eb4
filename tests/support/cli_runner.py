"""Run `assistant ...` in the test process: the same `main()` the console script calls.

Each new Python process on this 2-core machine spends a minute importing chromadb, so the CLI
contract is tested in-process; a few tests (`test_cli.py`'s console-script checks, kill -9 of a
rebuild, `serve`) still start the real `assistant` executable.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.app.cli import main

EXECUTABLE = str(Path(sys.executable).parent / "assistant")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | str | None = None) -> Result:
    """`assistant *args` with `env` added to the environment, in `cwd`; exit code and output."""
    out, err = io.StringIO(), io.StringIO()
    logged = logging.StreamHandler(err)  # what a process would log to its stderr
    logging.getLogger().addHandler(logged)
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        if cwd is not None:
            patch.chdir(cwd)
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        finally:
            logging.getLogger().removeHandler(logged)
    return Result(code, out.getvalue(), err.getvalue())


def environment(**extra: str) -> dict[str, str]:
    """The environment for a real `assistant` process."""
    return {**os.environ, **extra}
