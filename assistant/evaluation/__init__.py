"""Evaluation: evaluation sets and answers in, scores, kept runs, reports and training items out.

Loads and scores sets (evaluate) and knows each set's role, training or held-out (sets); keeps
every run in the data folder (runs: the store; keep: writing a run as it is scored); draws a
run's results.csv, metrics.json and report.html (report) and compares two runs (comparison).
Users' 👍/👎 are kept (feedback) and become draft evaluation or training items (eval_drafts),
which the learn stage reads.
"""
