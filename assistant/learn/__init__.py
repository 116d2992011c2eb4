"""Learn: training sets and the loaded index in, a trained model on disk out.

`assistant tune` (tune) runs the answerer over the training sets, cross-fitted, and fits the
query adapter, the sentence ranker, the decliner and the companion model (the arithmetic in
fit), stored where the index loads them (assistant.index.ranking). training_data turns failed
items and drafts from the 评测 tab or an LLM into training items. It comes after evaluation:
it reads the sets, runs and drafts that stage keeps.
"""
