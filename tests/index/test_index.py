"""Indexing: Chroma + BM25 built once, recorded in a manifest, switched atomically."""

import shutil

import pytest

from assistant.errors import IndexMismatchError, IndexMissingError, UserError
from assistant.index.build import build_index
from assistant.index.loaded import LoadedIndex
from assistant.index.manifest import current_build, read_manifest
from conftest import REPORT, make_settings


@pytest.fixture()
def small_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# 甲报告\n\n## 一、总论\n\n杭州有很多企业。宁波也有。\n", encoding="utf-8")
    return corpus


def test_the_report_index_records_documents_chunks_and_embedding(report_settings, report_index):
    manifest = report_index.manifest
    assert list(manifest.documents) == [REPORT.name]
    assert manifest.chunks == len(report_index.chunks) > 50
    assert manifest.embedding["kind"] == "hashing"
    assert report_index.store._collection.count() == manifest.chunks


def test_rebuilding_an_unchanged_corpus_does_no_work(tmp_path, small_corpus):
    settings = make_settings(tmp_path, small_corpus)
    first = build_index(settings)
    again = build_index(settings)
    assert not first.skipped and again.skipped
    assert again.manifest.build_id == first.manifest.build_id


def test_a_changed_file_or_rebuild_flag_makes_a_new_build_and_switches_to_it(tmp_path, small_corpus):
    settings = make_settings(tmp_path, small_corpus)
    first = build_index(settings).manifest.build_id
    (small_corpus / "a.md").write_text("# 甲报告\n\n## 一、总论\n\n温州有很多企业。\n", encoding="utf-8")
    second = build_index(settings).manifest.build_id
    third = build_index(settings, rebuild=True).manifest.build_id
    assert len({first, second, third}) == 3
    assert current_build(settings.persist_dir).name == third
    assert "温州" in LoadedIndex.open(settings).chunks[0].text


def test_a_failed_build_leaves_the_previous_index_answering(tmp_path, small_corpus, monkeypatch):
    settings = make_settings(tmp_path, small_corpus)
    build_index(settings)
    before = read_manifest(settings.persist_dir).build_id
    import assistant.index.build as build_module

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_module, "add_vectors", explode)
    with pytest.raises(RuntimeError):
        build_index(settings, rebuild=True)
    assert read_manifest(settings.persist_dir).build_id == before
    assert len(list((settings.persist_dir / "builds").iterdir())) == 1


def test_opening_a_missing_index_says_to_run_index(tmp_path, small_corpus):
    with pytest.raises(IndexMissingError, match="assistant index"):
        LoadedIndex.open(make_settings(tmp_path, small_corpus))


def test_asking_with_a_different_embedding_than_the_index_is_a_clear_error(tmp_path, small_corpus):
    settings = make_settings(tmp_path, small_corpus)
    build_index(settings)
    other = settings.model_copy(update={"embedding": "sentence-transformers"})
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        LoadedIndex.open(other)


def test_an_empty_or_missing_corpus_is_a_user_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no .md"):
        build_index(make_settings(tmp_path, empty))
    with pytest.raises(UserError, match="not found"):
        build_index(make_settings(tmp_path, tmp_path / "nowhere"))


def test_damaged_index_files_name_the_command_that_repairs_them(tmp_path, small_corpus):
    settings = make_settings(tmp_path, small_corpus)
    build_index(settings)
    shutil.rmtree(current_build(settings.persist_dir) / "lexical")
    with pytest.raises(UserError, match=r"lexical/.* is missing\); run `assistant index` to repair it"):
        LoadedIndex.open(settings)
