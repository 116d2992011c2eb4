"""Chinese question answering with cited passages over one report.

corpus → clean → outline → chunk → index → retrieve → answer → (cli | ui | api | evaluate)
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
