"""Chinese question answering with cited passages over one report.

One folder per pipeline stage, in the order data flows (each imports only from earlier ones):

    ingest → index → answer → evaluation → learn → app

with settings, errors, answer_models and files shared by all. `Assistant` (assistant.answer.chain)
is the whole pipeline behind one call, `Assistant.ask()`.
"""

__all__ = ["Assistant", "Answer", "Settings"]


def __getattr__(name: str):
    # lazy, so `assistant --help` does not import LangChain and Chroma
    if name == "Assistant":
        from assistant.answer.chain import Assistant

        return Assistant
    if name == "Answer":
        from assistant.answer_models import Answer

        return Answer
    if name == "Settings":
        from assistant.settings import Settings

        return Settings
    raise AttributeError(name)
