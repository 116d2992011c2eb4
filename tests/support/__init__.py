"""Helpers every stage's tests share: the CLI run in-process (cli_runner), a live server
(live_server), a browser (browser), a fake OpenAI endpoint (fake_openai_server), a small report
and its trained model (tiny_report, tiny_models), and kept runs made to order (run_factory).
Importable as `support.…` from any test folder: pyproject puts tests/ on pytest's pythonpath."""
