"""The 原文 tab: the whole report as the index holds it, with its recovered outline (目录).

Every passage is the text of one indexed chunk, in document order, under the headings of its
section path, with the chunk id as its anchor: a citation's 「在原文中查看」 opens this tab at
its passage and marks the sentences the answer quotes (script in `SOURCE_JS`). Text is escaped.
"""

from __future__ import annotations

import html

import gradio as gr

from itertools import groupby

from assistant.ingest.chunk import walk

CSS = """
#source-view { display: flex; gap: 1.5em; align-items: flex-start; }
#source-view nav { flex: 0 0 16em; position: sticky; top: 0; max-height: 80vh; overflow-y: auto; font-size: .9em; }
#source-view nav a { display: block; padding: .15em 0; text-decoration: none; }
#source-view .report { flex: 1 1 auto; min-width: 0; max-height: 80vh; overflow-y: auto; line-height: 1.8; }
#source-view .report-passage { white-space: pre-wrap; margin: .4em 0; }
#source-view .report-passage mark { background: #fde68a; color: inherit; }
#source-view .report-passage .carried { display: none; }
#source-view nav, #source-view nav a { text-align: left !important; }
#source-view :is(h2, h3, h4, h5, h6) { margin: .9em 0 .3em; }
@media (max-width: 640px) {
  #source-view { display: block; }
  #source-view nav { position: static; max-height: 30vh; margin-bottom: 1em; }
}
"""

# 「在原文中查看」: switch to the 原文 tab, mark the quoted spans of the passage, scroll it into view
SOURCE_JS = """<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a.open-source");
  if (!link) return;
  event.preventDefault();
  const tab = [...document.querySelectorAll("button[role=tab]")].find(b => b.innerText.trim() === "原文");
  if (tab) tab.click();
  const [id, ...marks] = link.getAttribute("href").slice(1).split("~");
  const spans = marks.map(m => m.split("-").map(Number));
  const started = Date.now(), click = (window.openSourceClicks = (window.openSourceClicks || 0) + 1);
  const show = () => {
    if (click !== window.openSourceClicks) return;  // a later 「在原文中查看」 was clicked meanwhile
    const passage = document.getElementById(id);
    // the tab renders its content on first show: on a slow phone or a busy server that takes
    // seconds (a test machine running a training meanwhile took more than 10 s)
    if (!passage || !passage.offsetParent) { if (Date.now() - started < 60000) setTimeout(show, 50); return; }
    document.querySelectorAll("#source-view .report-passage mark").forEach(m => m.replaceWith(...m.childNodes));
    // the passage's own text, after the sentence it repeats from the one before (hidden)
    const text = [...passage.textContent], carry = Number(passage.dataset.carry || 0);
    const cuts = [...new Set([0, carry, text.length, ...spans.flat()])].filter(n => n <= text.length).sort((a, b) => a - b);
    const hidden = document.createElement("span"), own = document.createElement("span");
    hidden.className = "carried";
    for (let i = 0; i + 1 < cuts.length; i++) {
      const [a, b] = [cuts[i], cuts[i + 1]], piece = text.slice(a, b).join("");
      const node = spans.some(([s, e]) => s <= a && b <= e) ? document.createElement("mark") : document.createElement("span");
      node.textContent = piece;
      (a < carry ? hidden : own).append(node);
    }
    if (!own.querySelector("mark") && hidden.querySelector("mark")) hidden.className = "";  // quoted only there
    passage.replaceChildren(hidden, own);
    (own.querySelector("mark") || passage).scrollIntoView({block: "center"});
  };
  show();
});
</script>"""


def passage_anchor(chunk_id: str) -> str:
    return f"passage-{chunk_id}"


def report_html(chunks) -> str:
    """目录 and body of every indexed document: a heading for each new section of a chunk's path."""
    toc, body = [], []
    for _, group in groupby(sorted(chunks, key=lambda c: (c.source, c.order)), key=lambda c: c.source):
        document = list(group)
        body.append(f'<h2 id="doc-{len(toc)}">{html.escape(document[0].title)}</h2>')
        toc.append(f'<a href="#doc-{len(toc)}">{html.escape(document[0].title)}</a>')
        end, before = 0, ""
        for item in walk(document):
            if isinstance(item, tuple):
                depth, title = item
                anchor, level = f"sec-{len(toc)}", min(depth + 2, 6)
                body.append(f'<h{level} id="{anchor}">{html.escape(title)}</h{level}>')
                toc.append(f'<a href="#{anchor}" style="padding-left:{depth - 1}em">{html.escape(title)}</a>')
                continue
            chunk = item
            # a chunk may repeat the last sentence of the one before (chunk._pack): shown once
            carry = next((k for k in range(len(chunk.text), 0, -1) if before.endswith(chunk.text[:k])), 0) if chunk.start < end else 0
            body.append(f'<div class="report-passage" id="{passage_anchor(chunk.chunk_id)}" data-carry="{carry}">'
                        f'<span class="carried">{html.escape(chunk.text[:carry])}</span>{html.escape(chunk.text[carry:])}</div>')
            end, before = chunk.end, chunk.text
    return (f'<div id="source-view"><nav aria-label="目录"><strong>目录</strong>{"".join(toc)}</nav>'
            f'<div class="report" tabindex="0" aria-label="报告原文">{"".join(body)}</div></div>')


def source_tab(assistant, settings) -> None:
    """The report the loaded index answers from (not whatever is on disk now)."""
    gr.HTML(report_html(assistant.index.chunks), padding=False)
