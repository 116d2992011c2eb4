"""Scaled corpora for the benchmarks: N copies of the report under distinct file names.

The "perturbed" variant shifts every number in copies 1..N-1 (a different shift per copy and
per number), so the copies are not byte-identical: chunks, tokens and vectors all differ, and
no cache keyed on text could make a large corpus look cheap. Heading numbers followed by
、 or . are left alone so every copy keeps the report's outline.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "corpus" / "zhejiang-industrial-clusters-report.md"
_NUMBER = re.compile(r"\d+(?![\d、.．])")


def perturb(text: str, copy: int) -> str:
    counter = iter(range(1 << 30))
    return _NUMBER.sub(lambda m: str(int(m.group()) + (copy * 7 + next(counter)) % 13 + 1), text)


def make_corpus(folder: Path, copies: int, perturbed: bool, report: Path = REPORT) -> Path:
    """Write `copies` reports into `folder` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    text = report.read_text(encoding="utf-8")
    for i in range(copies):
        body = perturb(text, i) if perturbed and i else text
        (folder / f"report-{i:03d}.md").write_text(body, encoding="utf-8")
    return folder
