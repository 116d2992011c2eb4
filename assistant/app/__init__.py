"""App: the edges people and programs use, all thin shells over `Assistant.ask()`.

The command line (cli), the HTTP server (api: FastAPI with the mounted Gradio UI and the
OpenAI-compatible chat API of openai_api, behind the request-size and login layers of guards),
the MCP server (mcp_server), and the Gradio UI: the chat tab (ui, with the page's theme and
scripts in ui_page, an answer's HTML in ui_render and one browser's chat in ui_chat), the 原文
tab (ui_source), the 评测 tab and its trainer's part (ui_eval, ui_train, ui_common). Beside
them, what only the edges need: a conversation as Markdown and Word (export), follow-up
questions (suggest) and past conversations (conversation_store). Takes a question in, hands a
person or a program its answer.
"""
