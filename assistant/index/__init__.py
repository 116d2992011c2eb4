"""Index: chunks in, a searchable index on disk out, and that index loaded for questions.

Builds and updates the index (build: Chroma vectors per sentence and chunk, BM25 over jieba
tokens, a manifest of what built it), caches every embedded text (embedding_cache), and holds
the embeddings, the tokenizer and its corpus vocabulary (tokenize, lexicon), the quotable
sentence units (sentence_index) and the stored learned model that an index loads (ranking).
Hands the answer stage a `LoadedIndex`.
"""
