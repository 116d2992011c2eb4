"""`assistant mcp`: the assistant as a Model Context Protocol server on stdio.

MCP hosts (Claude Desktop, Cherry Studio, Cursor, …) start it as a subprocess and let their own
model call it, so the report is quoted by the tool that knows it instead of recalled by a model
that does not. Built on the official SDK's `MCPServer`; a thin shell like the other edges:

* `ask(question, history?)` — `Assistant.ask`: the reply text of the OpenAI API (answer, [n],
  来源 list) and the answer's JSON as structured content;
* `search(query, k)` — the retriever's top passages with their section paths;
* `outline()` — each document's recovered outline (目录), as the index records it;
* one resource per indexed document: its text, read from the corpus folder.

A bad argument is a tool result marked as an error with a one-line message, never a crash.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Annotated, Iterator
from urllib.parse import quote

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp_types import CallToolResult, TextContent
from pydantic import Field, ValidationError

from assistant.answer.reply import reply_text
from assistant.errors import UserError
from assistant.ingest.chunk import Chunk, walk
from assistant.ingest.corpus import read_document
from assistant.ingest.normalize import normalize_query

MAX_SEARCH_K = 20
URI_SCHEME = "corpus"

Pair = Annotated[list[str], Field(min_length=2, max_length=2)]


@contextmanager
def _tool_errors() -> Iterator[None]:
    """What the user can fix (a bad question) becomes the tool's one-line error, not a crash log."""
    try:
        yield
    except UserError as exc:
        raise ToolError(str(exc)) from None


class _Server(MCPServer):
    """Arguments that fail a tool's schema are reported as one line per field, not as pydantic's
    multi-line text with links (the SDK's default), since a host shows the error as it is."""

    async def call_tool(self, name, arguments, context=None):
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            fields = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.__cause__.errors()
            )
            raise ToolError(f"bad arguments for {name}: {fields}") from exc.__cause__


def _result(text: str, data: dict) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def document_uri(source: str) -> str:
    return f"{URI_SCHEME}:///{quote(source)}"


def _documents(index) -> dict[str, list[Chunk]]:
    grouped: dict[str, list[Chunk]] = {source: [] for source in index.manifest.documents}
    for chunk in index.chunks:
        grouped.setdefault(chunk.source, []).append(chunk)
    return {source: chunks for source, chunks in grouped.items() if chunks}


def _reader(corpus_dir: Path, source: str):
    """Reads the document when a host asks (its text as indexed: PDF and Word files as extracted)."""

    def read() -> str:
        try:
            return read_document(corpus_dir, corpus_dir / source).text
        except (OSError, UserError) as exc:
            raise ResourceError(f"{source} cannot be read from {corpus_dir}: {getattr(exc, 'strerror', None) or exc}") from None

    return read


def create_server(assistant) -> MCPServer:
    """The MCP server over one opened `Assistant` (tools and one resource per document)."""
    index = assistant.index
    documents = _documents(index)
    titles = {source: chunks[0].title or source for source, chunks in documents.items()}
    server = _Server(
        "assistant",
        instructions=(
            f"只回答{assistant.answerer.scope}用 ask 提问（回答带 [n] 引用和来源），search 查原文段落，"
            "outline 看目录；每份文档也是一个资源。"
        ),
        log_level="WARNING",  # stderr is the host's log: tool errors a user can fix are not news
    )

    @server.tool(structured_output=False)
    def ask(question: str, history: list[Pair] | None = None) -> CallToolResult:
        """Answer a question about the report(s) with numbered citations ([n] → section path and quoted sentence).
        history: earlier turns as [["问题", "回答"], ...], so a follow-up like 「那温州呢？」 works."""
        with _tool_errors():
            answer = assistant.ask(question, history=history or [])
        data = answer.model_dump(mode="json", include={"answer", "answerable", "standalone_question", "citations", "warnings"})
        return _result(reply_text(answer), data)

    @server.tool(structured_output=False)
    def search(query: str, k: Annotated[int, Field(ge=1, le=MAX_SEARCH_K)] = 5) -> CallToolResult:
        """The k passages that best match a query, each with its document and section path (no answer is composed)."""
        with _tool_errors():
            text = normalize_query(assistant.validate(query))
        found = assistant.retriever.model_copy(update={"k": k}).invoke(text)
        passages = [
            {"n": n, "source": d.metadata["source"], "title": d.metadata["title"], "section": d.metadata["section"],
             "score": round(float(d.metadata["score"]), 4), "text": d.page_content}
            for n, d in enumerate(found, start=1)
        ]
        shown = "\n\n".join(f"[{p['n']}] {p['section'] or p['title']}\n{p['text']}" for p in passages)
        return _result(shown or "没有找到相关段落。", {"passages": passages})

    @server.tool(structured_output=False)
    def outline() -> CallToolResult:
        """Each document's outline (目录): its numbered headings, nested by level, as recovered from the text."""
        entries = [
            {"source": source, "title": titles[source], "uri": document_uri(source),
             "headings": [{"depth": item[0], "title": item[1]} for item in walk(chunks) if not isinstance(item, Chunk)]}
            for source, chunks in documents.items()
        ]
        text = "\n\n".join(
            "\n".join([f"《{e['title']}》（{e['source']}）"] + [f"{'  ' * (h['depth'] - 1)}{h['title']}" for h in e["headings"]])
            for e in entries
        )
        return _result(text, {"documents": entries})

    corpus_dir = assistant.settings.corpus_dir.resolve()
    for source in documents:
        server.add_resource(FunctionResource.from_function(
            fn=_reader(corpus_dir, source),
            uri=document_uri(source),
            name=source,
            title=titles[source],
            description=f"《{titles[source]}》全文",
            mime_type="text/markdown" if source.lower().endswith((".md", ".markdown")) else "text/plain",
        ))
    return server


def serve_stdio(settings) -> None:
    """Open the index, then speak MCP on stdin/stdout until the host closes them."""
    from assistant.answer.chain import Assistant

    with redirect_stdout(sys.stderr):  # stdout carries the protocol: nothing else may print there
        server = create_server(Assistant(settings))
    server.run("stdio")
