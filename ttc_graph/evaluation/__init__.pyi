# The public names of ``ttc_graph.evaluation``, loaded on first use by ``__init__.py``
# (lazy_loader reads this file).
from .arithmetic import ArithmeticProblem, generate_problems
from .grading import grade, grade_completion
from .metrics import CurvePoint, wilson_interval
from .plot import plot_curve
from .problems import Problem, ProblemSet, load_problems
from .report import print_report, write_report
from .runner import EvalReport, Evaluation, create_evaluation
from .store import ResultStore

__all__ = [
    "ArithmeticProblem",
    "CurvePoint",
    "EvalReport",
    "Evaluation",
    "Problem",
    "ProblemSet",
    "ResultStore",
    "create_evaluation",
    "generate_problems",
    "grade",
    "grade_completion",
    "load_problems",
    "plot_curve",
    "print_report",
    "wilson_interval",
    "write_report",
]
