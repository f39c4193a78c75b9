"""ttc-graph: test-time compute scaling as LangGraph state machines."""

from ttc_graph.answers import answers_equal, extract_answer
from ttc_graph.policy import load_policy

__all__ = ["answers_equal", "extract_answer", "load_policy"]
__version__ = "0.1.0"
