"""Evaluation: evaluation sets and answers in, scores, kept runs, reports and training items out.

Loads and scores sets (evaluate) and knows each set's role, training or held-out (sets); keeps
every run in the data folder (runs: the store; keep: writing a run as it is scored) and draws
its results.csv, metrics.json, report.html and run comparisons (report). Users' 👍/👎 are kept
(feedback) and become draft evaluation or training items (eval_drafts), which the learn stage
reads.
"""
