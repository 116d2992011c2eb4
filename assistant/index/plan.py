"""Planning a build: which corpus files changed since the answering build, and whether an update
can reuse that build or the index must be built in full (another format, chunk size, embedding
or vector location, no stored tokens, or damage)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.index.embeddings import HASHING, choose_kind
from assistant.index.manifest import FORMAT_VERSION, TOKENS, Manifest, vector_location
from assistant.index.vectors import index_damage
from assistant.settings import Settings


@dataclass(frozen=True)
class ChangePlan:
    full: bool
    reason: str  # why a full build, or "update"
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    @property
    def nothing_to_do(self) -> bool:
        return not self.full and not (self.added or self.changed or self.removed)

    @property
    def to_read(self) -> tuple[str, ...]:
        return self.added + self.changed


def plan_changes(
    settings: Settings,
    previous: Manifest | None,
    previous_build: Path | None,
    digests: dict[str, str],
    rebuild: bool = False,
) -> ChangePlan:
    """Compare the corpus with the answering build. An update needs a build of this format,
    chunk size, embedding and vector location whose stored tokens it can reuse."""
    names = sorted(digests)
    spec = previous.embedding_spec if previous else None
    wanted = _wanted_kind(settings)
    reason = (
        "rebuild requested" if rebuild
        else "no index yet" if previous is None or previous_build is None
        else "index format changed" if previous.format_version != FORMAT_VERSION
        else "chunk size changed" if previous.chunk_tokens != settings.chunk_tokens
        else "embedding changed" if spec.kind != wanted or (wanted == HASHING and spec.dim != settings.hashing_dim)
        else f"vectors move from {previous.vector_store} to {vector_location(settings)}"
        if previous.vector_store != vector_location(settings)
        else "previous build has no stored tokens" if not (previous_build / TOKENS).is_file()
        else f"the index is damaged: {damage}, so it is built again" if (damage := index_damage(settings, previous_build, previous))
        else ""
    )
    if reason:
        return ChangePlan(full=True, reason=reason, added=tuple(names))
    old = {name: entry.sha256 for name, entry in previous.documents.items()}
    return ChangePlan(
        full=False,
        reason="update",
        added=tuple(n for n in names if n not in old),
        changed=tuple(n for n in names if n in old and old[n] != digests[n]),
        removed=tuple(sorted(set(old) - set(digests))),
        unchanged=tuple(n for n in names if old.get(n) == digests[n]),
    )


def _wanted_kind(settings: Settings) -> str:
    return choose_kind(settings.embedding, settings.embedding_model)
