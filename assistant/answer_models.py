"""The typed shapes that flow out of the assistant: passages, citations, answers.

These are the contract for every edge: `assistant ask --json`, `POST /api/ask`, the UI and
the evaluator all serialise exactly these models.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Passage(BaseModel):
    """A retrieved chunk with its fused retrieval score."""

    chunk_id: str
    source: str
    title: str = ""
    section: str
    text: str
    score: float


class Citation(BaseModel):
    n: int
    chunk_id: str
    source: str
    title: str = ""
    section: str
    text: str
    score: float
    highlights: list[tuple[int, int]] = Field(
        default_factory=list, description="character spans of `text` that the answer quotes"
    )


class Answer(BaseModel):
    question: str
    standalone_question: str = ""
    answer: str
    answerable: bool
    citations: list[Citation] = Field(default_factory=list)
    retrieved: list[Passage] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    mode: str = "extractive"
    warnings: list[str] = Field(default_factory=list)
    extractive_answer: str | None = Field(
        None, description="the extractive answer, shown beside a generated one whose numbers failed the check"
    )
