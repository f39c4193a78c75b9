# The public names of ``ttc_graph.evaluation``, loaded on first use by ``__init__.py``.
from .problems import load_problems
from .report import print_report, write_report
from .runner import Evaluation, create_evaluation

__all__ = [
    "Evaluation",
    "create_evaluation",
    "load_problems",
    "print_report",
    "write_report",
]
