"""Index: chunks in, a searchable index on disk out, and that index loaded for questions.

Plans and writes builds and updates (plan, build) into the folder layout the manifest describes
(manifest), with Chroma vectors per sentence and chunk (vectors, sentence_index), BM25 over
jieba tokens (lexical, tokenize, lexicon) and a cache of every embedded text (embeddings,
embedding_cache). The stored learned model lives here because an index loads it (ranking).
Hands the answer stage a `LoadedIndex` (loaded).
"""
