# The public names of ``ttc_graph.evaluation``, loaded on first use by ``__init__.py``.
from .options import create_evaluation
from .problems import load_problems
from .report import print_report, write_report
from .runner import Evaluation

__all__ = [
    "Evaluation",
    "create_evaluation",
    "load_problems",
    "print_report",
    "write_report",
]
