"""The page around the tabs: the theme, the CSS and the scripts every tab's markup relies on,
and the labels that keep the page Chinese whatever the browser's language."""

from __future__ import annotations

import gradio as gr

from assistant.app import ui_source

# The page is Chinese whatever the browser's language: Gradio takes its locale, and <html lang>,
# from the browser (guards.PageLanguage pins it), and its zh-CN labels lack these.
PAGE_LANG = "zh-CN"


GRADIO_LABELS = {"chatbot.copy_message": "复制", "chatbot.copied_message": "已复制", "chatbot.clear": "清空对话"}


CSS = """
.answer-text, .passage { white-space: pre-wrap; }
.citations { margin-top: .7em; padding-top: .4em; border-top: 1px solid var(--border-color-primary); font-size: .92em; }
.citations-title { color: var(--body-text-color-subdued); margin-bottom: .2em; }
.citation { margin: .25em 0; }
.citation summary { cursor: pointer; }
.citation .source { color: var(--body-text-color-subdued); margin-left: .5em; font-size: .9em; }
.citation .passage { margin: .3em 0 .5em; padding: .4em .7em; background: var(--background-fill-secondary);
  border-left: 3px solid var(--color-accent); line-height: 1.7; }
.citation mark { background: #fde68a; color: inherit; padding: 0 .1em; }
a.cite-ref { font-weight: 600; text-decoration: none; }
.extractive { margin-top: .5em; white-space: pre-wrap; }
.warnings { margin-top: .5em; padding: .35em .7em; border-left: 3px solid #d97706; background: #fef3c7;
  color: #78350f; font-size: .92em; }
.copy-row { margin-top: .5em; }
.copy-row .plain-text { display: none; }
button.copy-answer { font-size: .85em; padding: .15em .6em; border: 1px solid var(--border-color-primary);
  border-radius: var(--radius-sm); background: var(--background-fill-primary); color: var(--body-text-color); cursor: pointer; }
:is(#examples, #follow-ups) { gap: .4em; flex-wrap: wrap; align-items: center; }
:is(#examples, #follow-ups) > * { flex: 0 0 auto !important; width: auto !important; }
#export-md { margin-left: auto; }
.examples-label { font-size: .9em; color: var(--body-text-color-subdued); }
h1.app-title { font-size: 1.5rem; font-weight: 600; margin: .2em 0 .1em; }
.status-line { color: var(--body-text-color-subdued); font-size: .9em; }
#question-count { font-size: .85em; color: var(--body-text-color-subdued); min-height: 1.4em; text-align: right; }
#question-count.over { color: var(--error-text-color); font-weight: 600; }
/* 评测 tables: an id never breaks inside (at 8% of a phone's width it wrapped one character a line) */
:is(#eval-table, #feedback-table) .first-column {
  width: 7.5em !important; min-width: 7.5em !important; max-width: none !important; flex: 0 0 7.5em !important; }
:is(#eval-table, #feedback-table) .first-column span { white-space: nowrap; }
/* a comparison's columns line up; on a phone the text box scrolls sideways (a textarea takes the keyboard) */
#eval-comparison textarea { font-family: var(--font-mono); white-space: pre; overflow-x: auto; }
.train-title { font-weight: 600; margin: .2em .4em; }
.app-header { padding: 0 !important; gap: .2em !important; }
/* 历史对话: a column beside the chat; on a phone a folded bar above it (#conv-toggle opens it) */
.conv-heading h2 { font-size: 1rem; font-weight: 600; margin: 0; }
#conv-toggle { display: none; }
#conv-toggle::after { content: "▾"; margin-left: .3em; }
#conv-toggle[aria-expanded="true"]::after { content: "▴"; }
.conv-note-box:not(:has(.conv-note)) { display: none !important; }
#conv-list { max-height: calc(50vh + 4em); overflow-y: auto; }
#conv-list .wrap { flex-direction: column; gap: .3em; }
#conv-list label { width: 100%; white-space: pre-line; line-height: 1.35; overflow-wrap: anywhere; }
/* the open one keeps its dot under the pointer (the theme's hover paints it white) */
#conv-list input:checked { background-color: var(--checkbox-background-color-selected) !important;
  border-color: var(--checkbox-border-color-selected) !important; }
.conv-note { font-size: .9em; color: var(--body-text-color-subdued); }
#conv-actions, #conv-rename, #conv-confirm { gap: .4em; flex-wrap: wrap; align-items: center; }
:is(#conv-actions, #conv-rename, #conv-confirm) > button { flex: 0 0 auto !important; width: auto !important; }
@media (max-width: 640px) {
  h1.app-title { font-size: 1.1rem; margin: 0; }
  .status-line { font-size: .75rem; line-height: 1.35; }
  #chat { height: 42vh !important; }
  .conv-heading { display: none !important; }
  /* at the right end of the tab bar's line, where a phone has room, not on a line of its own */
  #conv-toggle { display: flex; align-self: flex-end; width: auto; margin-top: -49px; position: relative; z-index: 1; }
  #chat-layout { row-gap: 0 !important; }
  #conversations[data-open] { padding-bottom: var(--layout-gap); }
  #conversations:not([data-open]) > :not(#conv-toggle) { display: none !important; }
  #conv-list { max-height: 45vh; }
}
"""


# [n] in an answer opens and scrolls to its passage: one click, no matter how old the answer is.
# 复制回答 copies the answer as plain text (reply.reply_text, kept hidden in the message), not its HTML.
HEAD = """<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a.cite-ref");
  if (!link) return;
  const target = document.getElementById(link.getAttribute("href").slice(1));
  if (!target) return;
  event.preventDefault();
  target.open = true;
  target.scrollIntoView({block: "nearest", behavior: "smooth"});
});
document.addEventListener("click", async (event) => {
  const button = event.target.closest && event.target.closest("button.copy-answer");
  if (!button) return;
  const text = button.parentElement.querySelector(".plain-text").textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (error) {  // no clipboard API over plain http on another machine: the old way
    const scratch = document.createElement("textarea");
    scratch.value = text;
    document.body.appendChild(scratch);
    scratch.select();
    document.execCommand("copy");
    scratch.remove();
  }
  button.textContent = "✓ 已复制";
  setTimeout(() => { button.textContent = "复制回答"; }, 2000);
});
</script>"""


# the question box's live count, run in the browser on every change (typing, pasting, clearing)
COUNT_JS = """(text) => {
  const out = document.getElementById("question-count");
  if (!out) return;
  const limit = Number(out.dataset.limit), used = [...(text || "")].length;
  const over = used > limit;
  out.classList.toggle("over", over);
  out.textContent = over ? `已输入 ${used} 字，超出上限 ${used - limit} 字：请删减后再发送，否则不会发送。`
                         : (used ? `${used} / ${limit} 字` : "");
}"""


# after 👍/👎 the comment box opens below the question box: bring it into view (off-screen on a phone)
SHOW_COMMENT_JS = """() => setTimeout(() => {
  const box = document.querySelector("#feedback-comment textarea");
  if (box) { box.scrollIntoView({block: "center"}); box.focus({preventScroll: true}); }
}, 50)"""


# on a phone, 历史对话 opens and folds the list (data-open, an attribute Gradio never re-renders);
# choosing a conversation folds it again, so the chat is what shows (run by the event that opens
# it: a second, script-only listener on the same click was now and then not run)
TOGGLE_LIST_JS = """() => {
  const open = document.getElementById("conversations").toggleAttribute("data-open");
  document.getElementById("conv-toggle").setAttribute("aria-expanded", String(open));
}"""


FOLD_LIST_JS = """(...inputs) => {
  document.getElementById("conversations").removeAttribute("data-open");
  document.getElementById("conv-toggle").setAttribute("aria-expanded", "false");
  return inputs;
}"""


def page_options() -> dict:
    """What Gradio 6 takes when the app is mounted rather than in Blocks: theme, CSS, script.

    System fonts only (the default theme fetches Google Fonts, which these machines cannot reach).
    Colours darkened to WCAG AA (4.5:1): Gradio's subdued grey and its orange buttons and tab
    are 1.8–2.8:1 on white.
    """
    fonts = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
    theme = gr.themes.Default(font=fonts, font_mono=["Noto Sans Mono CJK SC", "monospace"]).set(
        color_accent="*primary_700",  # the selected tab's text
        body_text_color_subdued="*neutral_600",
        body_text_color_subdued_dark="*neutral_300",
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_dark="*primary_700",
        button_primary_background_fill_hover_dark="*primary_800",
        button_primary_text_color="white",
        input_placeholder_color="*neutral_500",
    )
    return {"theme": theme, "css": CSS + ui_source.CSS, "head": HEAD + ui_source.SOURCE_JS, "i18n": gr.I18n(**{PAGE_LANG: GRADIO_LABELS})}
