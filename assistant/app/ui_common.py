"""What the 评测 tab's modules share: a UserError as a one-line message in the page."""

from __future__ import annotations

import functools

import gradio as gr

from assistant.errors import UserError


def friendly(handler):
    """A UserError becomes Gradio's one-line error toast, and no traceback in the server's log
    (Gradio prints one for every gr.Error unless told not to)."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except UserError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    return wrapper
