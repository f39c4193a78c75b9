"""Tree structure shared by the HTML and terminal views: children, liveness, layout."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from ttc_graph.strategies.state import TraceNode, Usage
from ttc_graph.visualization.trace import SearchTrace

# Leaves that end a line of search that was never cut off.
_LIVE_LEAVES = frozenset({"finished", "active", "kept"})


@dataclass(frozen=True)
class Tree:
    """A trace's nodes indexed for drawing."""

    nodes: dict[str, TraceNode]
    """Parents before children (the order of the trace)."""
    children: dict[str, list[str]]
    root: str

    @classmethod
    def of(cls, trace: SearchTrace) -> Tree:
        """Index a validated trace (its nodes are already parents first)."""
        nodes = {n["id"]: n for n in trace["nodes"]}
        children: dict[str, list[str]] = {name: [] for name in nodes}
        for node in trace["nodes"]:
            if node["parent"] is not None:
                children[node["parent"]].append(node["id"])
        return cls(nodes=nodes, children=children, root=trace["nodes"][0]["id"])

    def faded(self) -> set[str]:
        """Nodes on dead branches: pruned, or with every line below them pruned.

        The root is never faded, so an all-pruned search still shows its question.
        """
        alive: set[str] = set()
        for name in reversed(list(self.nodes)):  # children before parents
            node, kids = self.nodes[name], self.children[name]
            if (not kids and node["status"] in _LIVE_LEAVES) or any(k in alive for k in kids):
                alive.add(name)
        return {name for name in self.nodes if name not in alive and name != self.root}

    def path(self, name: str) -> list[str]:
        """Ids from the root down to ``name``."""
        out = [name]
        while (parent := self.nodes[out[-1]]["parent"]) is not None:
            out.append(parent)
        return out[::-1]


@dataclass(frozen=True)
class Position:
    """Where a node sits: ``x`` in leaf slots, ``depth`` in levels below the root."""

    x: float
    depth: int


def layout(tree: Tree) -> dict[str, Position]:
    """A tidy top-down layout: leaves one slot apart, each parent centred over its children.

    Subtrees never overlap because every leaf gets its own slot, in sibling order.
    """
    positions: dict[str, Position] = {}
    depth = {tree.root: 0}
    for name in tree.nodes:
        for kid in tree.children[name]:
            depth[kid] = depth[name] + 1
    next_slot = 0.0
    # Post-order without recursion: deep traces (hundreds of steps) must not hit
    # Python's recursion limit.
    stack: list[tuple[str, bool]] = [(tree.root, False)]
    while stack:
        name, expanded = stack.pop()
        kids = tree.children[name]
        if not kids:
            positions[name] = Position(next_slot, depth[name])
            next_slot += 1
        elif expanded:
            x = (positions[kids[0]].x + positions[kids[-1]].x) / 2
            positions[name] = Position(x, depth[name])
        else:
            stack.append((name, True))
            stack.extend((kid, False) for kid in reversed(kids))
    return positions


def usage_items(usage: Usage) -> list[tuple[str, str]]:
    """(key, human text) for each usage figure, in a fixed order."""
    return [
        ("completion_tokens", f"{usage['completion_tokens']:,} tokens generated"),
        ("prompt_tokens", f"{usage['prompt_tokens']:,} prompt tokens"),
        ("policy_calls", _plural(usage["policy_calls"], "policy call")),
        ("verifier_calls", _plural(usage["verifier_calls"], "verifier call")),
        ("seconds", f"{usage['seconds']:.1f} s"),
    ]


def status_counts(tree: Tree) -> dict[str, int]:
    """How many nodes have each status."""
    counts: dict[str, int] = {}
    for node in tree.nodes.values():
        counts[node["status"]] = counts.get(node["status"], 0) + 1
    return counts


def _plural(count: int | float, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


# Red → amber → green; stops chosen to stay distinguishable for red-green colour blindness
# by lightness as well as hue.
_SCALE = ((0.0, (215, 48, 39)), (0.5, (253, 174, 97)), (1.0, (26, 152, 80)))
NO_SCORE_COLOR = "#bdbdbd"


def score_color(score: float | None) -> str:
    """Hex colour of a verifier score in [0, 1] (clamped); grey where unscored."""
    if score is None:
        return NO_SCORE_COLOR
    s = min(1.0, max(0.0, float(score)))
    for (lo, c0), (hi, c1) in pairwise(_SCALE):
        if s <= hi:
            t = (s - lo) / (hi - lo)
            r, g, b = (round(a + (z - a) * t) for a, z in zip(c0, c1, strict=True))
            return f"#{r:02x}{g:02x}{b:02x}"
    return NO_SCORE_COLOR  # unreachable: s <= 1.0 always matches the last stop
