"""Many documents in many formats: .md, .txt, .pdf and .docx read, chunked and cited by name,
and files that break reading or structure recovery become warnings, never a crash.

PDF and Word files are made here. The PDF is written by hand the way word processors write
Chinese text (a Type0 font, Identity-H encoding, a ToUnicode map, no embedded glyphs): text
extraction needs only the map.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answer.chain import Assistant
from assistant.errors import UserError
from assistant.index.build import build_index
from assistant.ingest.corpus import READERS, UnreadableDocumentError, corpus_files, read_document
from conftest import make_settings


def _pdf_string(text: str) -> str:
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


def _to_unicode(chars: list[int]) -> bytes:
    lines = [
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
        "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange",
    ]
    for start in range(0, len(chars), 100):
        block = chars[start : start + 100]
        lines.append(f"{len(block)} beginbfchar")
        lines.extend(f"<{c:04X}> <{c:04X}>" for c in block)
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode("ascii")


def write_pdf(path: Path, pages: list[list[str]], title: str | None = None) -> Path:
    """A PDF whose pages hold these lines of (BMP) text; `title` goes into its metadata."""
    chars = sorted({ord(c) for page in pages for line in page for c in line})
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes, extra: str = "") -> bytes:
        return f"<< /Length {len(data)} {extra}>>\nstream\n".encode() + data + b"\nendstream"

    catalog = add(b"")
    pages_id = add(b"")
    to_unicode = add(stream(_to_unicode(chars)))
    descriptor = add(
        b"<< /Type /FontDescriptor /FontName /NotoSansCJKsc-Regular /Flags 4 /FontBBox [0 -120 1000 880] "
        b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>"
    )
    cid_font = add(
        f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /NotoSansCJKsc-Regular "
        f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        f"/FontDescriptor {descriptor} 0 R /DW 1000 /CIDToGIDMap /Identity >>".encode()
    )
    font = add(
        f"<< /Type /Font /Subtype /Type0 /BaseFont /NotoSansCJKsc-Regular /Encoding /Identity-H "
        f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>".encode()
    )
    page_ids = []
    for lines in pages:
        ops = ["BT", "/F1 12 Tf", "14 TL", "56 780 Td"]
        for line in lines:
            ops.append(f"<{line.encode('utf-16-be').hex().upper()}> Tj T*")
        ops.append("ET")
        content = add(stream("\n".join(ops).encode("ascii")))
        page_ids.append(add(
            f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {content} 0 R >>".encode()
        ))
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode()
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects[pages_id - 1] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()
    info = add(f"<< /Title {_pdf_string(title)} >>".encode() if title else b"<< >>")

    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R /Info {info} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def write_blank_pdf(path: Path) -> Path:
    """A PDF with a page and no text layer, like a scan."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def write_docx(path: Path, blocks: list[tuple[str, object]], title: str | None = None) -> Path:
    """A Word file from (kind, content) blocks: ("title", text), ("heading1".."heading3", text),
    ("para", text), ("bold", text), ("table", [[cell, ...], ...])."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    for kind, content in blocks:
        if kind == "title":
            document.add_heading(content, level=0)
        elif kind.startswith("heading"):
            document.add_heading(content, level=int(kind[-1]))
        elif kind == "bold":
            document.add_paragraph().add_run(content).bold = True
        elif kind == "table":
            table = document.add_table(rows=len(content), cols=len(content[0]))
            for r, row in enumerate(content):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        else:
            document.add_paragraph(content)
    document.save(str(path))
    return path


# --- the documents of a small multi-format corpus ---

PDF_LINES = [
    ["嘉兴市产业集群调研", "一、基本情况", "嘉兴的羊毛衫产业集群共有企业 2400 家，年产值", "185 亿元。", "2"],
    ["二、存在的问题", "品牌建设滞后，自主品牌的销售额只占三成。", "3"],
]
DOCX_BLOCKS = [
    ("title", "湖州市童装产业报告"),
    ("heading1", "一、发展概况"),
    ("para", "织里镇童装企业超过 1.3 万家，年销售额 600 亿元。"),
    ("table", [["指标", "数值"], ["从业人员", "30 万人"]]),
    ("heading1", "二、主要对策"),
    ("bold", "（一）加快品牌培育"),
    ("para", "鼓励企业注册自主商标，建设童装设计中心。"),
]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A corpus of one file per format plus the files that must only warn, indexed once."""
    tmp = tmp_path_factory.mktemp("mixed")
    corpus = tmp / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "宁波报告.md").write_text(
        "# 宁波市服装产业集群报告\n\n## 一、现状\n\n宁波服装产业集群有规模以上企业 860 家。\n", encoding="utf-8"
    )
    (corpus / "sub" / "台州.txt").write_bytes("一、概况\n\n台州的汽摩配件产业集群有企业 5000 多家。\n".encode("gb18030"))
    write_pdf(corpus / "jiaxing.pdf", PDF_LINES, title="嘉兴市产业集群调研")
    write_docx(corpus / "huzhou.docx", DOCX_BLOCKS)
    write_blank_pdf(corpus / "scan.pdf")
    (corpus / "empty.md").write_text("", encoding="utf-8")
    (corpus / "garbage.txt").write_bytes(bytes(range(256)) * 40)
    (corpus / "fake.docx").write_bytes(b"this is not a zip file")
    (corpus / "headings-only.md").write_text(
        "\n".join(f"{i}、第{i}项" for i in range(1, 30)) + "\n", encoding="utf-8"
    )
    (corpus / "~$huzhou.docx").write_bytes(b"a Word lock file")
    settings = make_settings(tmp, corpus)
    manifest = build_index(settings).manifest
    return settings, manifest, Assistant(settings)


def test_every_format_is_found_and_lock_files_are_not(mixed):
    settings, _, _ = mixed
    names = [p.relative_to(settings.corpus_dir).as_posix() for p in corpus_files(settings.corpus_dir)]
    assert {".md", ".txt", ".pdf", ".docx"} <= set(READERS)
    assert "~$huzhou.docx" not in names
    assert {"宁波报告.md", "sub/台州.txt", "jiaxing.pdf", "huzhou.docx"} <= set(names)


def test_a_pdf_reads_as_text_with_its_title_and_without_page_numbers(tmp_path):
    path = write_pdf(tmp_path / "r.pdf", PDF_LINES, title="嘉兴市产业集群调研")
    text = read_document(tmp_path, path).text
    assert text.startswith("# 嘉兴市产业集群调研\n")
    assert "嘉兴的羊毛衫产业集群共有企业 2400 家" in text and "品牌建设滞后" in text
    assert "\n2\n" not in text and not text.rstrip().endswith("3")


def test_a_docx_reads_headings_tables_and_bold_lines_in_order(tmp_path):
    text = read_document(tmp_path, write_docx(tmp_path / "r.docx", DOCX_BLOCKS)).text
    lines = text.splitlines()
    assert lines[0] == "# 湖州市童装产业报告"
    assert "## 一、发展概况" in lines and "**（一）加快品牌培育**" in lines
    assert "从业人员，30 万人。" in lines
    assert lines.index("## 一、发展概况") < lines.index("从业人员，30 万人。") < lines.index("## 二、主要对策")


def test_a_docx_without_a_title_line_takes_its_document_title(tmp_path):
    path = write_docx(tmp_path / "r.docx", DOCX_BLOCKS[1:], title="湖州童装")
    assert read_document(tmp_path, path).text.startswith("# 湖州童装\n")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bad.txt", bytes(range(256)) * 4, "not UTF-8 or GB18030"),
        ("bad.pdf", b"%PDF-1.7 broken", "not a readable PDF"),
        ("bad.docx", b"PK not really", "not a readable Word"),
    ],
)
def test_unreadable_files_raise_a_user_error_naming_the_problem(tmp_path, name, data, message):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(UnreadableDocumentError, match=message):
        read_document(tmp_path, tmp_path / name)


def test_each_document_is_indexed_under_its_own_title_and_file(mixed):
    _, manifest, _ = mixed
    docs = manifest.documents
    assert docs["宁波报告.md"].title == "宁波市服装产业集群报告"
    assert docs["sub/台州.txt"].title == "台州"
    assert docs["jiaxing.pdf"].title == "嘉兴市产业集群调研"
    assert docs["huzhou.docx"].title == "湖州市童装产业报告"
    assert all(docs[n].chunks > 0 for n in ("宁波报告.md", "sub/台州.txt", "jiaxing.pdf", "huzhou.docx"))


@pytest.mark.parametrize(
    ("question", "source", "title", "fact"),
    [
        ("宁波服装产业集群有多少家规模以上企业？", "宁波报告.md", "宁波市服装产业集群报告", "860"),
        ("台州汽摩配件产业集群有多少企业？", "sub/台州.txt", "台州", "5000"),
        ("嘉兴羊毛衫产业集群有多少家企业？", "jiaxing.pdf", "嘉兴市产业集群调研", "2400"),
        ("织里镇童装企业年销售额多少？", "huzhou.docx", "湖州市童装产业报告", "600"),
    ],
)
def test_citations_name_the_document_for_every_format(mixed, question, source, title, fact):
    answer = mixed[2].ask(question)
    assert answer.answerable and fact in answer.answer
    first = answer.citations[0]
    assert (first.source, first.title) == (source, title)
    assert fact in first.text


def test_a_pdf_section_path_comes_from_its_numbering(mixed):
    sections = {c.section for c in mixed[2].index.chunks if c.source == "jiaxing.pdf"}
    assert sections == {"一、基本情况", "二、存在的问题"}


def test_broken_files_become_warnings_and_the_rest_is_indexed(mixed):
    _, manifest, _ = mixed
    warnings = "\n".join(manifest.warnings)
    assert "scan.pdf: no text found" in warnings
    assert "empty.md: no text found" in warnings
    assert "garbage.txt: not UTF-8 or GB18030 text" in warnings
    assert "fake.docx: not a readable Word .docx file" in warnings
    assert "headings-only.md: section structure not usable" in warnings
    assert "sub/台州.txt" not in warnings  # a numbered plain-text file has a structure
    for skipped in ("scan.pdf", "empty.md", "garbage.txt", "fake.docx"):
        assert manifest.documents[skipped].chunks == 0
    # the heading-only file is chunked by paragraph instead, keeping its text
    assert manifest.documents["headings-only.md"].chunks > 0
    assert not manifest.documents["headings-only.md"].structured


def test_unstructured_text_is_chunked_by_paragraph_with_a_warning(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text(
        "这是一段没有任何标题的记录，讲到绍兴的纺织业。\n\n另一段提到诸暨的珍珠市场，年成交额 300 亿元。\n" * 20,
        encoding="utf-8",
    )
    settings = make_settings(tmp_path, corpus)
    manifest = build_index(settings).manifest
    assert manifest.warnings == ["notes.txt: no section structure found, chunked by paragraph"]
    answer = Assistant(settings).ask("诸暨珍珠市场年成交额多少？")
    assert "300 亿元" in answer.answer and answer.citations[0].section == ""


def test_a_corpus_with_no_readable_text_is_one_user_error(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_blank_pdf(corpus / "scan.pdf")
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(UserError, match="contain no text"):
        build_index(make_settings(tmp_path, corpus))
