"""Visualization against real system tools: Graphviz PNGs and headless Chromium.

The tools come from scripts/install-test-deps.sh (``make test`` runs it before
pytest; the tests never install anything). A test whose tool is missing is
skipped, saying which tool and how to install it.

The browser test opens the viewer of a REAL beam search by the embedded model
and checks through the DOM that every node rendered and the chosen path is the
returned solution, then leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ttc_graph import create_beam_search
from ttc_graph.policy import SamplingParams
from ttc_graph.strategies import SPECS
from ttc_graph.verifiers import ArithmeticVerifier
from ttc_graph.visualization import (
    draw_png,
    load_trace,
    render_html,
    save_trace,
    strategy_graph,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-test-deps.sh"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
)
QUESTION = "Sam has 7 pencils and buys 5 more. How many pencils does Sam have?"


def require_tools(*names: str) -> dict[str, str]:
    """Paths of the named programs; skip naming the missing ones and how to get them.

    Installing is left to scripts/install-test-deps.sh, which ``make test`` runs
    before pytest: a test run never calls apt-get itself.
    """
    paths = {n: shutil.which(n) for n in names}
    still = [n for n, p in paths.items() if p is None]
    if still:
        pytest.skip(
            f"{', '.join(still)} not on PATH; install with scripts/install-test-deps.sh "
            "(make test runs it first)"
        )
    return {n: p for n, p in paths.items() if p is not None}


# --- the install script ------------------------------------------------------------


def test_install_script_never_fails_the_run(tmp_path: Path) -> None:
    # No apt-get, no tools at all on PATH: it must explain and exit 0, not break `make test`.
    done = subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(INSTALL_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "not installing graphviz chromium chromium-driver" in done.stderr
    assert "apt-get not found" in done.stderr


def test_install_script_is_a_no_op_when_everything_is_there() -> None:
    require_tools("dot", "chromium", "chromedriver")
    done = subprocess.run(
        ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    assert done.stdout + done.stderr == ""


# --- offline PNG diagrams ----------------------------------------------------------


def _check_png(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    with Image.open(path) as image:
        image.verify()  # checks chunk CRCs and structure
    with Image.open(path) as image:
        image.load()  # decodes every pixel
        assert image.format == "PNG"
        return image.size


@pytest.mark.parametrize("name", list(SPECS))
def test_png_diagram_of_every_strategy_is_drawn_offline(name: str, tmp_path: Path) -> None:
    require_tools("dot")
    path = draw_png(strategy_graph(name), tmp_path / f"{name}.png", title=name)
    width, height = _check_png(path)
    nodes = len(strategy_graph(name).get_graph().nodes)
    # A node is ~50 px tall at 144 dpi: the drawing really holds the whole graph.
    assert height > 50 * nodes
    assert width > 100


@pytest.mark.subprocess
def test_graph_command_writes_png_as_a_console_script(tmp_path: Path) -> None:
    require_tools("dot")
    script = Path(sys.executable).with_name("ttc-graph")
    out = tmp_path / "beam.png"
    done = subprocess.run(
        [str(script), "graph", "--strategy", "beam_search", "--png", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"Diagram written to {out}" in done.stdout
    _check_png(out)


# --- the HTML viewer in headless Chromium ----------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven by Debian's chromedriver, with its console log kept."""
    tools = require_tools("chromium", "chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="ttc-chromium-") as profile:
        options = Options()
        options.binary_location = tools["chromium"]
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(tools["chromedriver"]), options=options)
        driver.set_page_load_timeout(60)
        try:
            yield driver
        finally:
            driver.quit()


def _open(driver: Any, page: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(page.resolve().as_uri())
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element("css selector", "body").get_attribute("data-ready") == "true"
    )


def _js_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _text(element: Any) -> str:
    # textContent, not .text: the exact characters, whitespace and newlines included.
    return str(element.get_attribute("textContent"))


@pytest.fixture(scope="module")
def beam_result(policy: Any) -> dict[str, Any]:
    """A real beam search by the embedded model: n=4, beam width 2, two steps."""
    graph = create_beam_search(
        policy=policy,
        verifier=ArithmeticVerifier(),
        n=4,
        beam_width=2,
        max_steps=2,
        sampling=SamplingParams(temperature=0.8, max_new_tokens=24),
        seed=5,
    )
    return dict(graph.invoke({"question": QUESTION}))


def test_viewer_of_a_real_beam_search_in_chromium(
    browser: Any, beam_result: dict[str, Any], tmp_path: Path, artifacts_dir: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    # Through the files a user would have: trace JSON, then the page made from it.
    trace = load_trace(save_trace(beam_result, tmp_path / "beam.json"))
    page = render_html(trace, tmp_path / "beam.html")
    nodes = {n["id"]: n for n in trace["nodes"]}
    assert len(nodes) > 1 + 4, "a beam search of 4 beams has more than one level"
    _open(browser, page)
    find = browser.find_elements

    drawn = find("css selector", "#tree g.node")
    assert sorted(e.get_attribute("data-id") for e in drawn) == sorted(nodes)
    for element in drawn:
        assert element.rect["width"] > 10, "every node is rendered with a real size"
        assert element.rect["height"] > 10
    assert len(find("css selector", "#tree path.edge")) == len(nodes) - 1

    # The chosen path: exactly the trace's chosen nodes, one unbroken root-to-leaf chain.
    chosen = [e.get_attribute("data-id") for e in find("css selector", "#tree g.node.chosen")]
    assert set(chosen) == {k for k, n in nodes.items() if n["chosen"]}
    leaves = [k for k in chosen if not any(nodes[c]["parent"] == k for c in chosen)]
    assert len(leaves) == 1
    path = [leaves[0]]
    while nodes[path[-1]]["parent"] is not None:
        path.append(str(nodes[path[-1]]["parent"]))
    assert set(path) == set(chosen)
    assert len(find("css selector", "#tree path.edge.chosen")) == len(chosen) - 1

    # Header and the details panel, which opens on the end of the chosen path.
    answer = _text(browser.find_element("id", "answer"))
    assert answer == (beam_result["answer"] or "no answer extracted")
    tokens = browser.find_element("css selector", "#usage [data-key=completion_tokens]")
    assert _text(tokens).startswith(f"{beam_result['usage']['completion_tokens']:,} ")
    details = browser.find_element("id", "details")
    assert details.get_attribute("data-id") == leaves[0]
    solution = _text(details.find_element("css selector", ".path-text"))
    assert solution == beam_result["solution"]

    browser.save_screenshot(str(artifacts_dir / "tree-viewer.png"))
    width, height = _check_png(artifacts_dir / "tree-viewer.png")
    assert width >= 1000
    assert height >= 600

    # Hover shows the step in a tooltip; a click shows it in the panel.
    other = next(e for e in drawn if e.get_attribute("data-id") not in chosen)
    other_id = other.get_attribute("data-id")
    ActionChains(browser).move_to_element(other).perform()
    tooltip = browser.find_element("id", "tooltip")
    assert tooltip.is_displayed()
    assert nodes[other_id]["text"].strip()[:40] in _text(tooltip)
    other.click()
    assert details.get_attribute("data-id") == other_id
    assert _text(details.find_element("css selector", ".step-text")) == nodes[other_id]["text"]
    assert _js_errors(browser) == []


def test_viewer_never_runs_text_as_html_and_hides_pruned_branches(
    browser: Any, tmp_path: Path
) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    hostile = '<img src=x onerror="document.body.dataset.pwned=1"><script>alert(1)</script>'
    nodes = [
        ("root", None, "What is 2 + 2? </script><b id=q>bold?</b>", None, "root", True),
        ("0.0", "root", hostile, 0.4, "pruned", False),
        ("0.1", "root", "2 + 2 = 4. & <i>that's</i> it", 0.9, "finished", True),
    ]
    result = {
        "question_text": nodes[0][2],
        "answer": "<b>4</b>",
        "solution": nodes[2][2],
        "usage": {
            "completion_tokens": 9,
            "prompt_tokens": 20,
            "policy_calls": 1,
            "verifier_calls": 1,
            "seconds": 0.5,
        },
        "trace": {
            i: {
                "id": i,
                "parent": p,
                "text": t,
                "score": s,
                "iteration": 0,
                "status": st,
                "chosen": c,
                "group": 0,
            }
            for i, p, t, s, st, c in nodes
        },
        "strategy": "best_of_n",
        "budget_limited": False,
    }
    _open(browser, render_html(result, tmp_path / "hostile.html"))
    node = browser.find_element("css selector", 'g.node[data-id="0.0"]')
    node.click()
    details = browser.find_element("id", "details")
    assert _text(details.find_element("css selector", ".step-text")) == hostile
    assert _text(browser.find_element("id", "answer")) == "<b>4</b>"
    assert browser.find_elements("css selector", "img, b, i, #q") == []
    assert browser.find_element("css selector", "body").get_attribute("data-pwned") is None
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert len(browser.find_elements("css selector", "script")) == 2

    assert "faded" in str(node.get_attribute("class"))
    assert node.is_displayed()
    browser.find_element("id", "hide-faded").click()
    assert not node.is_displayed(), "hiding pruned branches hides the pruned node"
    assert browser.find_element("css selector", 'g.node[data-id="0.1"]').is_displayed()
    assert _js_errors(browser) == []
