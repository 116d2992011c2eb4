"""A fresh server hit by many clients at once answers exactly as one asked alone does.

Lazy state that threads build on their first question (jieba's part-of-speech tagger took the
corpus's own terms only once) once made a wrong answer stick for the life of a server; each
round starts new server processes so that every first question races.
"""

from __future__ import annotations

import json
import subprocess
import threading

import httpx

from support import cli_runner
from support.live_server import free_port, wait_for_health

ASSISTANT = cli_runner.EXECUTABLE
QUESTIONS = ["2008年中国百佳产业集群评比，浙江入选的都有哪些代表性的集群？", "绍兴有多少个产业集群？"]
CLIENTS = 8
SERVERS = 3


def _all_at_once(base: str, question: str) -> list[str]:
    barrier, answers = threading.Barrier(CLIENTS), []

    def ask() -> None:
        barrier.wait()
        reply = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=300)
        answers.append(reply.json()["answer"] if reply.status_code == 200 else f"HTTP {reply.status_code}")

    threads = [threading.Thread(target=ask) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_fresh_servers_hit_at_once_answer_as_a_lone_question_is_answered(report_settings, report_index, tmp_path):
    env = cli_runner.environment(ASSISTANT_PERSIST_DIR=str(report_settings.persist_dir),
                                 ASSISTANT_DATA_DIR=str(tmp_path / "data"), ASSISTANT_EMBEDDING="hashing")
    alone = {}
    for question in QUESTIONS:
        result = cli_runner.run("ask", question, "--json", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        alone[question] = json.loads(result.stdout)["answer"]
    ports = [free_port() for _ in range(SERVERS)]
    servers = [subprocess.Popen([ASSISTANT, "serve", "--port", str(p)], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for p in ports]
    try:
        for server, port in zip(servers, ports):
            wait_for_health(server, f"http://127.0.0.1:{port}")
        rounds = [threading.Thread(target=lambda p=p, q=q: got.setdefault((p, q), _all_at_once(f"http://127.0.0.1:{p}", q)))
                  for p, q in zip(ports, QUESTIONS * SERVERS)]
        got: dict = {}
        for t in rounds:
            t.start()
        for t in rounds:
            t.join()
        for (port, question), answers in got.items():
            assert answers == [alone[question]] * CLIENTS, (port, question)
            later = httpx.post(f"http://127.0.0.1:{port}/api/ask", json={"question": QUESTIONS[0]}, timeout=300)
            assert later.json()["answer"] == alone[QUESTIONS[0]]  # and the first answers stay right
    finally:
        for server in servers:
            server.kill()
            server.wait()
