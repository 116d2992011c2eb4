"""`assistant mcp` as an MCP host runs it: the real console script on stdio, driven by the `mcp`
SDK's own `ClientSession` (one subprocess for the module, reached through a blocking portal)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from anyio.from_thread import start_blocking_portal
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client

from support import cli_runner
from assistant.ingest.chunk import PATH_SEPARATOR
from conftest import REPORT

HANGZHOU = "杭州有多少个产业集群？"


@asynccontextmanager
async def _session(params: StdioServerParameters, errlog):
    async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


class Host:
    """A synchronous face on one ClientSession, so each test is a plain function."""

    def __init__(self, portal, session, stderr) -> None:
        self.portal, self.session, self.stderr = portal, session, stderr

    def __getattr__(self, name):
        method = getattr(self.session, name)
        return lambda *args: self.portal.call(method, *args)


@pytest.fixture(scope="module")
def host(report_settings, report_index, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mcp")
    stderr = folder / "stderr.log"
    params = StdioServerParameters(
        command=cli_runner.EXECUTABLE,
        args=["mcp"],
        cwd=str(folder),  # no assistant.toml here: the environment alone says where things are
        env=cli_runner.environment(
            ASSISTANT_CORPUS_DIR=str(report_settings.corpus_dir),
            ASSISTANT_PERSIST_DIR=str(report_settings.persist_dir),
            ASSISTANT_DATA_DIR=str(folder / "data"),
            ASSISTANT_EMBEDDING="hashing",
        ),
    )
    with stderr.open("w") as errlog, start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(_session(params, errlog)) as session:
            yield Host(portal, session, stderr)
    assert "Traceback" not in stderr.read_text()


def test_the_three_tools_are_listed_with_their_arguments(host):
    tools = {tool.name: tool for tool in host.list_tools().tools}
    assert set(tools) == {"ask", "search", "outline"}
    assert tools["ask"].input_schema["required"] == ["question"] and "history" in tools["ask"].input_schema["properties"]
    assert tools["search"].input_schema["properties"]["k"]["maximum"] == 20
    assert "《浙江省产业集群调研报告》" in host.session.initialize_result.instructions


def test_ask_answers_with_the_cited_passage(host, report_assistant):
    result = host.call_tool("ask", {"question": HANGZHOU})
    expected = report_assistant.ask(HANGZHOU)
    assert not result.is_error and "124" in expected.answer
    text = result.content[0].text
    assert text.startswith(expected.answer) and "来源：\n- [1] 一、产业集群现状 › （一）" in text
    citation = result.structured_content["citations"][0]
    assert "杭州 124 个，年产值 3380 亿元" in citation["text"] and citation["section"].endswith("1、产业集群的形成与分布")
    follow = host.call_tool("ask", {"question": "那温州呢？", "history": [[HANGZHOU, expected.answer]]})
    assert "73" in follow.structured_content["answer"] and "温州" in follow.structured_content["standalone_question"]


def test_search_returns_k_passages_with_section_paths(host):
    result = host.call_tool("search", {"query": "各市产业集群数量", "k": 3})
    passages = result.structured_content["passages"]
    assert not result.is_error and [p["n"] for p in passages] == [1, 2, 3]
    assert all(p["source"] == REPORT.name and PATH_SEPARATOR in p["section"] and p["text"] for p in passages)
    assert any("杭州 124 个" in p["text"] for p in passages)
    assert result.content[0].text.startswith(f"[1] {passages[0]['section']}\n")


def test_outline_is_the_recovered_outline_the_index_records(host, report_index):
    result = host.call_tool("outline", {})
    (document,) = result.structured_content["documents"]
    assert document["source"] == REPORT.name and document["title"] == "浙江省产业集群调研报告"
    # rebuild every section path from the nested headings: exactly the index's paths and their parents
    paths, open_path = set(), []
    for heading in document["headings"]:
        open_path = open_path[: heading["depth"] - 1] + [heading["title"]]
        paths.add(PATH_SEPARATOR.join(open_path))
    recorded = {c.section for c in report_index.chunks if c.section}
    parents = {PATH_SEPARATOR.join(p.split(PATH_SEPARATOR)[:i]) for p in recorded for i in range(1, p.count(PATH_SEPARATOR) + 1)}
    assert paths == recorded | parents
    assert "\n一、产业集群现状\n  （一）我省产业集群发展回顾\n    1、产业集群的形成与分布\n" in result.content[0].text


def test_each_document_is_a_resource_with_its_text(host):
    (resource,) = host.list_resources().resources
    assert resource.name == REPORT.name and resource.title == "浙江省产业集群调研报告"
    assert resource.mime_type == "text/markdown"
    (contents,) = host.read_resource(resource.uri).contents
    assert contents.text == REPORT.read_text(encoding="utf-8")
    with pytest.raises(MCPError, match="Unknown resource"):
        host.read_resource("corpus:///no-such-report.md")


@pytest.mark.parametrize(
    "tool, arguments, words",
    [
        ("ask", {"question": "   "}, "question is empty"),
        ("ask", {}, "question: Field required"),
        ("ask", {"question": "问", "history": [["只有问题"]]}, "history.0"),
        ("ask", {"question": "问" * 3000}, "too long"),
        ("search", {"query": "集群", "k": 0}, "k: Input should be greater than or equal to 1"),
        ("search", {"query": "集群", "k": "many"}, "k: Input should be a valid integer"),
        ("search", {"query": "？？"}, "no words"),
        ("nonexistent", {}, "Unknown tool"),
    ],
)
def test_a_bad_argument_is_a_one_line_error_result_and_the_server_lives_on(host, tool, arguments, words):
    result = host.call_tool(tool, arguments)
    assert result.is_error and words in result.content[0].text and "\n" not in result.content[0].text
    assert not host.call_tool("outline", {}).is_error
    assert "Traceback" not in host.stderr.read_text()


def test_a_missing_index_is_one_line_and_exit_2(tmp_path):
    result = cli_runner.run("mcp", "--persist", str(tmp_path / "none"), cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "assistant index" in result.stderr
