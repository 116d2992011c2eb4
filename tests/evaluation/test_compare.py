"""Comparing two runs: metric deltas and the items that were fixed, broke or still fail."""

from __future__ import annotations

import re

import pytest

from support import cli_runner

from assistant.evaluation import runs
from assistant.evaluation.comparison import compare, comparison_html, comparison_text
from conftest import make_settings
from support.run_factory import MIXED, answer, save_run

# A: a fails, b passes, c fails, d passes.  B: a fixed, b broken, c still failing, d gone.
AFTER_ANSWERS = {
    "a": answer("杭州有 124 个产业集群，年产值 3380 亿元。[1]"),
    "b": answer("江苏省有 5 个产业集群。"),
    "c": answer("不知道"),
}


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, tmp_path / "corpus")


@pytest.fixture
def kept(settings):
    """The two runs, kept: A's id and B's folder."""
    save_run(settings, "20250101-000000-aaaa", MIXED)
    return "20250101-000000-aaaa", save_run(settings, "20250102-000000-bbbb", AFTER_ANSWERS)


@pytest.fixture
def comparison(settings, kept):
    return compare(runs.load(settings, kept[0]), runs.load(settings, kept[1]))


def test_items_are_grouped_as_fixed_broken_and_still_failing(comparison):
    c = comparison
    assert [f.id for f in c.fixed] == ["a"]
    assert [f.id for f in c.broken] == ["b"]
    assert [f.id for f in c.still_failing] == ["c"]
    assert c.only_a == ["d"] and c.only_b == []
    assert c.still_failing[0].missing_b == ["58个"]
    assert c.fixed[0].answer_a == "杭州有 124 个产业集群。[1]"


def test_metric_deltas_are_b_minus_a(comparison):
    deltas = {d.metric: d for d in comparison.deltas}
    assert deltas["n"].a == 4 and deltas["n"].b == 3 and deltas["n"].delta == -1
    assert deltas["answer_accuracy"].delta == pytest.approx(0.5 - 1 / 3, abs=1e-3)
    assert deltas["refusal_accuracy"].delta == -1.0
    assert "latency_ms.p95" in deltas


def test_the_text_and_the_page_show_the_same_groups_with_text_escaped(comparison):
    c = comparison
    text = comparison_text(c)
    assert "fixed (1)" in text and "broken (1)" in text and "still failing (1)" in text
    assert "only in A (1): d" in text
    assert re.search(r"refusal_accuracy\s+1\s+0\s+-1", text)
    page = comparison_html(c)
    assert "修好了 fixed (1)" in page and "改坏了 broken (1)" in page and "仍未通过 still failing (1)" in page
    assert "&lt;script&gt;" in page and "<script" not in page.lower()
    assert re.findall(r"(?:src|href)\s*=", page, flags=re.I) == []


def test_cli_compare_takes_run_ids_or_folders_and_writes_the_page(tmp_path, settings, kept):
    before, after = kept
    page = tmp_path / "compare.html"
    env = {"ASSISTANT_DATA_DIR": str(settings.data_dir)}
    result = cli_runner.run("eval", "compare", before, str(after), "--html", str(page), env=env)
    assert result.returncode == 0, result.stderr
    assert "fixed (1)" in result.stdout and "\n  a  [fact]" in result.stdout
    assert "broken (1)" in result.stdout and "still failing (1)" in result.stdout
    assert "修好了 fixed (1)" in page.read_text(encoding="utf-8")

    missing = cli_runner.run("eval", "compare", before, "nope", env=env)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no evaluation run 'nope'") and len(missing.stderr.strip().splitlines()) == 1
