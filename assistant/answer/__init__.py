"""Answer: a question (and the conversation before it) in, an `Answer` with cited passages out.

Normalises and condenses the question (conversation), works out what it asks (query, names),
retrieves passages from the loaded index (retrieve, optionally rerank), then either quotes the
sentences that answer it (extractive and the modules it composes: features, companions,
markers) or has a language model write the answer (llm). chain ties the steps together behind
`Assistant.ask()`; reply renders an answer as plain text with its sources.
"""
