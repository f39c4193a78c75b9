"""The strategies served by ``langgraph dev`` from the repository's ``langgraph.json``.

Starts the real LangGraph dev server (in-memory runtime, offline) on loopback as a
subprocess, runs best-of-2 through ``langgraph-sdk`` with ``runs.wait`` and with
``runs.stream`` (the search's custom events), and stops it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripted import ScriptedPolicy
from ttc_graph.errors import InputError, LimitError
from ttc_graph.serving.langgraph_app import GraphBuilder, create_graph_factory, langgraph_json
from ttc_graph.strategies import SPECS

# It starts `langgraph dev` as a process: not in the fast tier.
pytestmark = pytest.mark.subprocess

REPO_ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What is 17 + 25?"
# Small enough for a CPU test: two candidates of at most 12 tokens.
RUN_CONTEXT = {"n": 2, "max_new_tokens": 12, "seed": 0}
STARTUP_S = 240.0

HAVE_SERVER = all(
    importlib.util.find_spec(name) is not None
    for name in ("langgraph_cli", "langgraph_runtime_inmem", "langgraph_sdk")
)


def test_one_graph_per_strategy_and_verifier() -> None:
    builder = GraphBuilder(load=ScriptedPolicy)
    graph = builder.graph("beam_search")
    assert builder.graph("beam_search") is graph, "options come per run, not per graph"
    assert builder.graph("beam_search", "arithmetic") is not graph
    assert builder.graph("majority").get_name() == "majority"
    with pytest.raises(LimitError, match="your own module"):
        builder.graph("weighted", "/some/prm/dir")
    with pytest.raises(InputError, match="Unknown strategy"):
        create_graph_factory("best_of_eight")
    result = graph.invoke(
        {"messages": [{"role": "user", "content": QUESTION}]},
        context={"n": 2, "beam_width": 2, "max_steps": 2},
    )
    assert result["messages"][-1].type == "ai"


def test_langgraph_json_serves_every_strategy() -> None:
    committed = json.loads((REPO_ROOT / "langgraph.json").read_text())
    assert committed == langgraph_json(), (
        "langgraph.json differs from the specs: rewrite it with python -c 'import json; from "
        "ttc_graph.serving.langgraph_app import langgraph_json; print(json.dumps("
        "langgraph_json(), indent=2))' > langgraph.json"
    )
    import ttc_graph.serving.langgraph_app as app

    for name in committed["graphs"]:
        assert callable(getattr(app, name))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY", "LANGSMITH_ENDPOINT"):
        env.pop(key, None)
    env.update(
        # The server must import this checkout's ttc_graph, whichever is installed.
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        # Offline and quiet: no CLI analytics, no PyPI version check, no LangSmith tracing.
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGGRAPH_NO_VERSION_CHECK="true",
        LANGSMITH_TRACING="false",
        LANGCHAIN_TRACING_V2="false",
    )
    return env


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL what is left of it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
    # The dev server may leave children behind after SIGTERM; take the whole group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of ``langgraph dev`` serving ``langgraph.json``."""
    if not HAVE_SERVER:
        pytest.skip(
            "needs langgraph-cli[inmem] and langgraph-sdk: pip install 'ttc-graph[langgraph]'"
        )
    workdir = tmp_path_factory.mktemp("langgraph-dev")  # it writes .langgraph_api/ here
    port = free_port()
    langgraph = Path(sys.executable).with_name("langgraph")
    cmd = [
        str(langgraph) if langgraph.exists() else "langgraph",
        "dev",
        "--config",
        str(REPO_ROOT / "langgraph.json"),
        "--no-browser",
        "--no-reload",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log_path = workdir / "server.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            env=server_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
        try:
            deadline = time.monotonic() + STARTUP_S
            while True:
                assert proc.poll() is None, "langgraph dev exited: " + log_path.read_text()[-3000:]
                try:
                    if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, (
                    f"langgraph dev not ready after {STARTUP_S:.0f} s: "
                    + log_path.read_text()[-3000:]
                )
                time.sleep(0.5)
            yield url
        finally:
            stop(proc)


@pytest.fixture(scope="module")
def client(server: str) -> Any:
    from langgraph_sdk import get_sync_client

    return get_sync_client(url=server, api_key=None)


@pytest.mark.slow
def test_every_strategy_is_served_with_its_schemas(client: Any) -> None:
    graphs = {a["graph_id"]: a for a in client.assistants.search(limit=50)}
    assert set(graphs) == set(SPECS)
    schemas = client.assistants.get_schemas(graphs["best_of_n"]["assistant_id"])
    # Clients see the graph's own input and output, not its working state.
    assert set(schemas["input_schema"]["properties"]) == {"question", "messages"}
    # Studio shows the run options: the graph's context schema, with its defaults.
    options = schemas["context_schema"]["properties"]
    assert options["n"]["default"] == SPECS["best_of_n"].default("n")
    assert "beam_width" not in options
    output = set(schemas["output_schema"]["properties"])
    assert {"answer", "solution", "candidates", "usage", "trace"} <= output
    assert "beams" not in output


@pytest.mark.slow
def test_a_search_runs_and_streams_its_events(client: Any) -> None:
    thread = client.threads.create()
    result = client.runs.wait(
        thread["thread_id"], "best_of_n", input={"question": QUESTION}, context=RUN_CONTEXT
    )
    assert len(result["candidates"]) == 2
    assert all(c["completion_tokens"] <= 12 for c in result["candidates"])
    assert result["usage"]["policy_calls"] == 1
    assert result["usage"]["verifier_calls"] == 1, "best_of_n gets the 'auto' verifier"
    assert result["strategy"] == "best_of_n"
    # The server's checkpointer keeps the finished search on the thread.
    assert client.threads.get_state(thread["thread_id"])["values"]["answer"] == result["answer"]

    events, last_values = [], None
    other = client.threads.create()
    for part in client.runs.stream(
        other["thread_id"],
        "best_of_n",
        input={"question": QUESTION},
        context=RUN_CONTEXT,
        stream_mode=["custom", "values"],
    ):
        if part.event == "custom":
            events.append(part.data)
        elif part.event == "values":
            last_values = part.data
        assert part.event != "error", part.data
    names = [e["event"] for e in events]
    assert names == ["candidate_generated"] * 2 + ["step_scored"] * 2 + ["answer_chosen"]
    assert events[-1]["answer"] == result["answer"]
    assert last_values is not None
    # Same seed, same server, same answer.
    assert [c["text"] for c in last_values["candidates"]] == [
        c["text"] for c in result["candidates"]
    ]


@pytest.mark.slow
def test_studio_chat_drives_a_graph_on_a_thread(client: Any) -> None:
    # What LangGraph Studio's chat and Agent Chat UI send: messages, one turn at a time.
    thread = client.threads.create()
    first = client.runs.wait(
        thread["thread_id"],
        "majority",
        input={"messages": [{"role": "user", "content": QUESTION}]},
        context=RUN_CONTEXT,
    )
    second = client.runs.wait(
        thread["thread_id"],
        "majority",
        input={"messages": [{"role": "user", "content": "What is 2 + 3?"}]},
        context={**RUN_CONTEXT, "n": 3},
    )
    assert [m["type"] for m in first["messages"]] == ["human", "ai"]
    assert [m["type"] for m in second["messages"]] == ["human", "ai", "human", "ai"]
    assert second["messages"][-1]["content"] == second["solution"]
    assert len(second["candidates"]) == 3, "each run takes its own options"
    # A new question on the thread starts from fresh usage: 3 candidates' tokens only.
    assert second["usage"]["completion_tokens"] == sum(
        c["completion_tokens"] for c in second["candidates"]
    )
