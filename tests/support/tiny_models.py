"""Tiny sentence-transformers models built inside a test, so the real loading code runs offline."""

from __future__ import annotations

from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocab(texts: list[str]) -> list[str]:
    chars = sorted({ch for text in texts for ch in text if not ch.isspace()})
    return SPECIAL + chars


def _tiny_bert(folder: Path, texts: list[str], num_labels: int | None = None) -> None:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizer

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(_vocab(texts)) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab), do_lower_case=False, tokenize_chinese_chars=True)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512,
    )
    if num_labels:
        config.num_labels = num_labels
        model = BertForSequenceClassification(config)
    else:
        model = BertModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def build_bi_encoder(folder: Path, texts: list[str]) -> Path:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models

    hf = folder / "hf"
    _tiny_bert(hf, texts)
    transformer = models.Transformer(str(hf), max_seq_length=256)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(folder / "model"))
    return folder / "model"


def build_cross_encoder(folder: Path, texts: list[str]) -> Path:
    _tiny_bert(folder, texts, num_labels=1)
    return folder
