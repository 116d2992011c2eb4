"""Ingest: the corpus folder's files in, chunks out.

Finds and reads the documents (corpus), joins broken lines and keeps source offsets (clean),
recovers the outline from the numbering (outline), cuts sentences (sentences) and packs them
into token-budgeted chunks of one section each (chunk); normalize holds the text forms that
questions and passages are compared in. Hands the index stage a list of `Chunk`s per document.
"""
