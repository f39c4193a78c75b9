"""Trace files, HTML viewer markup, terminal tree, layout and Mermaid diagrams.

These run on a hand-written trace shaped exactly like a strategy's result (see
ttc_graph/strategies/state.py) and on the real strategy graphs, with no model and
no system tools; the browser, PNG and real-search checks are in
test_visualization_system.py.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ttc_graph.cli import main
from ttc_graph.errors import TTCGraphError
from ttc_graph.policy.base import Policy
from ttc_graph.strategies import SPECS
from ttc_graph.strategies.state import TraceNode
from ttc_graph.visualization import (
    draw_mermaid,
    draw_png,
    load_trace,
    print_tree,
    render_html,
    save_trace,
    strategy_graph,
)
from ttc_graph.visualization.diagram import DiagramOnlyPolicy, GraphvizNotFoundError
from ttc_graph.visualization.html import html_document
from ttc_graph.visualization.layout import Tree, layout, score_color
from ttc_graph.visualization.terminal import build_tree
from ttc_graph.visualization.trace import trace_from_result

EVIL = '<img src=x onerror="document.body.dataset.pwned=1"></script><script>alert(1)</script>'
MARKUP = "[bold red]not markup[/bold red]"


def _node(
    node_id: str,
    parent: str | None,
    text: str,
    score: float | None,
    status: str,
    *,
    iteration: int = 0,
    chosen: bool = False,
    group: int = 0,
) -> TraceNode:
    return TraceNode(
        id=node_id,
        parent=parent,
        text=text,
        score=score,
        iteration=iteration,
        status=status,  # type: ignore[typeddict-item]
        chosen=chosen,
        group=group,
    )


def make_result() -> dict[str, Any]:
    """A beam search result as graph.invoke returns it: n=6, three iterations.

    Branch 0.0 was kept, then all of its children were pruned: a dead branch.
    Branch 0.1 leads to the chosen answer. Node 1.3 holds hostile text.
    """
    nodes = [
        _node("root", None, "What is 7 + 5?", None, "root", chosen=True),
        _node("0.0", "root", "7 + 5 is about 13.\n\n", 0.55, "kept"),
        _node("0.1", "root", "We add 7 and 5.\n\n", 0.8, "kept", chosen=True),
        _node("0.2", "root", "Let x be 3.\n\n", 0.1, "pruned"),
        _node("1.0", "0.0", "So 13.\n\n", 0.2, "pruned", iteration=1),
        _node("1.1", "0.0", "Hmm.\n\n", None, "pruned", iteration=1),
        _node("1.2", "0.1", "7 + 5 = 12.\n\n", 0.95, "kept", iteration=1, chosen=True),
        _node("1.3", "0.1", EVIL + "\n\n", 0.3, "pruned", iteration=1),
        _node("2.0", "1.2", "So \\boxed{12}.", 0.97, "finished", iteration=2, chosen=True),
        _node("2.1", "1.2", MARKUP + " The answer is 12.", 0.9, "finished", iteration=2),
    ]
    return {
        "question_text": "What is 7 + 5?",
        "answer": "12",
        "solution": "We add 7 and 5.\n\n7 + 5 = 12.\n\nSo \\boxed{12}.",
        "candidates": [],
        "usage": {
            "completion_tokens": 123,
            "prompt_tokens": 456,
            "policy_calls": 3,
            "verifier_calls": 3,
            "seconds": 4.25,
        },
        "trace": {n["id"]: n for n in nodes},
        "strategy": "beam_search",
        "budget_limited": False,
    }


CHOSEN = ["root", "0.1", "1.2", "2.0"]
FADED = {"0.0", "0.2", "1.0", "1.1", "1.3"}


# --- trace files ------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    result = make_result()
    path = save_trace(result, tmp_path / "run.json")
    raw = json.loads(path.read_text())
    assert raw["format"] == "ttc-graph-trace"
    assert raw["version"] == 1
    assert raw["strategy"] == "beam_search"
    assert raw["question"] == "What is 7 + 5?"
    assert raw["answer"] == "12"
    assert raw["usage"] == result["usage"]
    assert raw["budget_limited"] is False
    assert [n["id"] for n in raw["nodes"]] == list(result["trace"])

    loaded = load_trace(path)
    assert loaded["nodes"] == list(result["trace"].values())
    assert loaded["solution"] == result["solution"]
    # A loaded trace saves to the same bytes: nothing is lost or reordered.
    again = save_trace(loaded, tmp_path / "again.json")
    assert again.read_text() == path.read_text()
    assert not list(tmp_path.glob(".*.tmp")), "the temporary file is renamed into place"


def test_nodes_are_stored_parents_first_and_extra_fields_survive(tmp_path: Path) -> None:
    result = make_result()
    shuffled = dict(reversed(list(result["trace"].items())))
    shuffled["2.0"] = {**shuffled["2.0"], "tokens": 17}
    result["trace"] = shuffled
    loaded = load_trace(save_trace(result, tmp_path / "t.json"))
    seen: set[str] = set()
    for node in loaded["nodes"]:
        assert node["parent"] is None or node["parent"] in seen
        seen.add(node["id"])
    assert {n["id"]: n for n in loaded["nodes"]}["2.0"]["tokens"] == 17  # type: ignore[typeddict-item]


def _broken(change: Any) -> dict[str, Any]:
    data: dict[str, Any] = dict(trace_from_result(make_result()))
    data["nodes"] = [dict(n) for n in data["nodes"]]
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("usage"), "missing 'usage'"),
        (lambda d: d.update(version=7), "Unsupported trace version 7"),
        (lambda d: d.update(answer=12), "'answer' has the wrong type"),
        (lambda d: d["usage"].pop("seconds"), "usage is missing 'seconds'"),
        (lambda d: d["usage"].update(seconds=-1.0), r"usage\['seconds'\] must be >= 0"),
        (lambda d: d["nodes"].__setitem__(2, "x"), r"nodes\[2\] has the wrong type \(str\)"),
        (lambda d: d.update(nodes=[]), "no nodes"),
        (lambda d: d["nodes"][3].update(status="dead"), "unknown status 'dead'"),
        (lambda d: d["nodes"][3].pop("text"), r"nodes\[3\] is missing 'text'"),
        (lambda d: d["nodes"][3].update(iteration=True), "'iteration' has the wrong type"),
        (lambda d: d["nodes"][3].update(score="high"), "'score' has the wrong type"),
        (lambda d: d["nodes"][3].update(iteration=-1), "negative iteration"),
        (lambda d: d["nodes"][3].update(parent="nowhere"), "parent 'nowhere', which is not"),
        (lambda d: d["nodes"][3].update(parent=None), "exactly one root"),
        (lambda d: d["nodes"][3].update(id="0.1"), "appears twice"),
        (lambda d: d["nodes"][1].update(parent="1.0"), "form a cycle"),
    ],
)
def test_load_rejects_bad_traces_clearly(tmp_path: Path, change: Any, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_broken(change)))
    with pytest.raises(ValueError, match=message) as info:
        load_trace(path)
    assert str(path) in str(info.value), "the error names the file"


def test_load_rejects_files_that_are_not_traces(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_trace(tmp_path / "missing.json")
    truncated = tmp_path / "truncated.json"
    truncated.write_text(save_trace(make_result(), tmp_path / "ok.json").read_text()[:200])
    with pytest.raises(ValueError, match=r"not valid JSON .*truncated"):
        load_trace(truncated)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"answer": "12"}))
    with pytest.raises(ValueError, match="not a ttc-graph trace"):
        load_trace(other)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        load_trace(binary)


def test_save_rejects_bad_input_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="has no 'trace'"):
        save_trace({"answer": "12"}, tmp_path / "t.json")
    with pytest.raises(ValueError, match="got list"):
        save_trace([1, 2], tmp_path / "t.json")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not exist"):
        save_trace(make_result(), tmp_path / "no" / "such" / "t.json")
    with pytest.raises(ValueError, match="is a directory"):
        save_trace(make_result(), tmp_path)
    nan = make_result()
    nan["trace"]["0.0"]["score"] = math.nan
    with pytest.raises(ValueError, match="non-finite score"):
        save_trace(nan, tmp_path / "t.json")
    mismatched = make_result()
    mismatched["trace"]["x"] = mismatched["trace"].pop("0.2")
    with pytest.raises(ValueError, match=r"has id '0\.2'"):
        save_trace(mismatched, tmp_path / "t.json")
    assert not list(tmp_path.iterdir()), "a failed save writes nothing"


# --- layout and colours -----------------------------------------------------------


def test_layout_is_tidy_and_never_overlaps() -> None:
    tree = Tree.of(trace_from_result(make_result()))
    pos = layout(tree)
    assert len({(p.x, p.depth) for p in pos.values()}) == len(pos)
    leaves = [name for name in tree.nodes if not tree.children[name]]
    assert sorted(pos[name].x for name in leaves) == list(range(len(leaves)))
    for name, kids in tree.children.items():
        assert pos[name].depth == len(tree.path(name)) - 1
        if kids:
            assert pos[name].x == (pos[kids[0]].x + pos[kids[-1]].x) / 2


def test_layout_handles_very_deep_traces() -> None:
    nodes = [_node("root", None, "q", None, "root")]
    for i in range(3000):  # deeper than Python's default recursion limit
        nodes.append(_node(f"s{i}", nodes[-1]["id"], "step", 0.5, "kept", iteration=i))
    nodes[-1]["status"] = "finished"
    result = {**make_result(), "trace": {n["id"]: n for n in nodes}}
    tree = Tree.of(trace_from_result(result))
    assert layout(tree)["s2999"].depth == 3000
    assert not tree.faded()


def test_faded_marks_exactly_the_dead_branches() -> None:
    assert Tree.of(trace_from_result(make_result())).faded() == FADED


def test_score_colours() -> None:
    assert score_color(0.0) == "#d73027"
    assert score_color(0.5) == "#fdae61"
    assert score_color(1.0) == "#1a9850"
    assert score_color(-3) == score_color(0.0)
    assert score_color(7) == score_color(1.0)
    assert score_color(None) == "#bdbdbd"
    assert score_color(0.25) not in (score_color(0.0), score_color(0.5))


# --- HTML -------------------------------------------------------------------------


class _Elements(HTMLParser):
    """Collects every start tag with its attributes, and each <script>'s text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _parse(page: str) -> _Elements:
    parser = _Elements()
    parser.feed(page)
    return parser


def _classes(attrs: dict[str, str | None]) -> set[str]:
    return set((attrs.get("class") or "").split())


def test_html_has_every_node_with_stable_hooks(tmp_path: Path) -> None:
    result = make_result()
    path = render_html(result, tmp_path / "tree.html")
    parsed = _parse(path.read_text(encoding="utf-8"))
    nodes = {a["data-id"]: a for t, a in parsed.tags if t == "g" and "node" in _classes(a)}
    assert set(nodes) == set(result["trace"])
    assert {k for k, a in nodes.items() if "chosen" in _classes(a)} == set(CHOSEN)
    assert {k for k, a in nodes.items() if "faded" in _classes(a)} == FADED
    assert "status-finished" in _classes(nodes["2.0"])
    assert nodes["2.0"]["data-score"] == "0.97"
    assert nodes["1.1"]["data-score"] == ""
    edges = [a for t, a in parsed.tags if t == "path" and "edge" in _classes(a)]
    assert len(edges) == len(result["trace"]) - 1
    chosen_edges = {(a["data-from"], a["data-to"]) for a in edges if "chosen" in _classes(a)}
    assert chosen_edges == set(itertools.pairwise(CHOSEN))
    ids = {a.get("id") for _, a in parsed.tags}
    assert {"answer", "usage", "details", "tree", "trace-data", "node-count"} <= ids


def test_html_header_shows_answer_and_usage() -> None:
    page = html_document(make_result())
    assert '<code id="answer">12</code>' in page
    assert '<li data-key="completion_tokens">123 tokens generated</li>' in page
    assert '<li data-key="policy_calls">3 policy calls</li>' in page
    assert '<li data-key="seconds">4.2 s</li>' in page
    assert "budget limit reached" not in page
    limited = html_document({**make_result(), "budget_limited": True, "answer": None})
    assert "budget limit reached" in limited
    assert "no answer extracted" in limited


def test_html_escapes_all_text_and_embeds_inert_json() -> None:
    page = html_document(make_result())
    parsed = _parse(page)
    assert "<img" not in page
    assert "alert(1)</script>" not in page
    assert [t for t, _ in parsed.tags].count("script") == 2, "only the page's own scripts"
    data_script = next(s for s in parsed.scripts if s.lstrip().startswith("{"))
    assert "<" not in data_script
    assert ">" not in data_script
    assert "&" not in data_script
    data = json.loads(data_script)
    texts = {n["id"]: n["text"] for n in data["nodes"]}
    assert texts["1.3"] == EVIL + "\n\n", "the JSON still decodes to the exact text"


def test_html_is_self_contained() -> None:
    page = html_document(make_result())
    for _, attrs in _parse(page).tags:
        assert "src" not in attrs, attrs
        assert "href" not in attrs, attrs
    assert "@import" not in page
    assert "url(" not in page
    assert re.findall(r"https?://[^\s\"'<>]+", page) == ["http://www.w3.org/2000/svg"]
    assert "default-src 'none'" in page, "the page forbids network loads outright"


def test_render_html_accepts_a_loaded_trace_and_rejects_bad_paths(tmp_path: Path) -> None:
    trace = load_trace(save_trace(make_result(), tmp_path / "t.json"))
    assert render_html(trace, tmp_path / "a.html").read_text() == html_document(make_result())
    with pytest.raises(ValueError, match="does not exist"):
        render_html(trace, tmp_path / "missing" / "a.html")
    with pytest.raises(ValueError, match="has no 'trace'"):
        render_html({"answer": "1"}, tmp_path / "b.html")


# --- terminal ---------------------------------------------------------------------


def _printed(trace: Any, **kwargs: Any) -> str:
    console = Console(record=True, width=160, color_system=None)
    print_tree(trace, console=console, **kwargs)
    return console.export_text()


def test_terminal_tree_shows_every_step_and_the_chosen_path() -> None:
    text = _printed(make_result(), max_text=120)
    lines = text.splitlines()
    assert lines[0].split() == ["Strategy", "beam_search", "Answer", "12"]
    assert "123 tokens generated · 456 prompt tokens" in lines[1]
    assert len(lines) == 2 + len(make_result()["trace"])
    starred = [line for line in lines if "★" in line]
    assert len(starred) == len(CHOSEN) - 1  # the root is the question, not a step
    assert "0.97 finished So \\boxed{12}." in starred[-1]
    assert MARKUP in text, "model output is printed literally, never as rich markup"
    assert EVIL in text
    assert "  -- pruned   Hmm." in text


def test_terminal_tree_cuts_long_text() -> None:
    result = make_result()
    result["trace"]["0.2"]["text"] = "x" * 500
    text = _printed(result, max_text=20)
    assert "x" * 19 + "…" in text
    assert "x" * 20 not in text
    with pytest.raises(ValueError, match="max_text"):
        build_tree(result, max_text=0)


# --- CLI: view --------------------------------------------------------------------


def test_view_writes_html_next_to_the_trace(tmp_path: Path, capsys: Any) -> None:
    trace = save_trace(make_result(), tmp_path / "run.json")
    assert main(["view", str(trace)]) == 0
    html = tmp_path / "run.html"
    assert html.read_text() == html_document(load_trace(trace))
    assert str(html) in capsys.readouterr().out


def test_view_terminal_and_output_flags(tmp_path: Path, capsys: Any) -> None:
    trace = save_trace(make_result(), tmp_path / "run.json")
    assert main(["view", str(trace), "--terminal", "--max-text", "30"]) == 0
    out = capsys.readouterr().out
    assert "We add 7 and 5." in out
    assert "★" in out
    assert not (tmp_path / "run.html").exists(), "--terminal alone writes no file"
    assert main(["view", str(trace), "--terminal", "-o", str(tmp_path / "x.html")]) == 0
    assert (tmp_path / "x.html").is_file()


def test_view_reports_bad_input_in_one_line(tmp_path: Path, capsys: Any) -> None:
    assert main(["view", str(tmp_path / "nope.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["view", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    trace = save_trace(make_result(), tmp_path / "run.json")
    assert main(["view", str(trace), "-o", str(trace)]) == 2
    assert "would overwrite the trace" in capsys.readouterr().err
    assert json.loads(trace.read_text())["answer"] == "12", "the trace is untouched"


# --- diagrams (Mermaid; PNGs need Graphviz and are in the system tests) -------------


@pytest.mark.parametrize("name", list(SPECS))
def test_graph_command_prints_mermaid_of_every_strategy(name: str, capsys: Any) -> None:
    assert main(["graph", "--strategy", name]) == 0
    out = capsys.readouterr().out
    assert out == draw_mermaid(strategy_graph(name))
    assert "graph TD;" in out
    for node in strategy_graph(name).get_graph().nodes:
        assert re.search(rf"^\s*{node}[(\[]", out, re.M), f"node {node} missing"
    if name in ("beam_search", "dvts"):
        assert "prune -.-> expand;" in out, "the search loop is drawn as a conditional edge"


def test_optional_verifier_changes_the_drawn_graph() -> None:
    without = strategy_graph("self_refine").get_graph().nodes
    with_verifier = strategy_graph("self_refine", with_verifier=True).get_graph().nodes
    assert "score" not in without
    assert "score" in with_verifier
    with pytest.raises(ValueError, match="needs a verifier"):
        strategy_graph("beam_search", with_verifier=False)


def test_diagram_stand_ins_refuse_to_run() -> None:
    assert isinstance(DiagramOnlyPolicy(), Policy)
    graph = strategy_graph("best_of_n")
    # Strategies may wrap a node's failure (StrategyError); the cause must still show.
    with pytest.raises((RuntimeError, TTCGraphError), match="DiagramOnlyPolicy is a stand-in"):
        graph.invoke({"question": "What is 1 + 1?"})
    with pytest.raises(ValueError, match="compiled LangGraph graph"):
        draw_mermaid("beam_search")


def test_png_without_dot_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        draw_png(strategy_graph("majority"), tmp_path / "g.png")
    assert main(["graph", "--strategy", "majority", "--png", str(tmp_path / "g.png")]) == 2
    assert "apt-get install graphviz" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()
