"""Evaluation harness: accuracy-vs-N curves that survive crashes.

Example::

    ev = create_evaluation(dataset="arithmetic", strategies="greedy,majority", ns="1,2,4")
    report = ev.run()  # resumes from runs/eval/results.sqlite
    write_report(report, ev.out)
"""

from ttc_graph.evaluation.arithmetic import ArithmeticProblem, generate_problems
from ttc_graph.evaluation.grading import grade, grade_completion
from ttc_graph.evaluation.metrics import CurvePoint, wilson_interval
from ttc_graph.evaluation.plot import plot_curve
from ttc_graph.evaluation.problems import Problem, ProblemSet, load_problems
from ttc_graph.evaluation.report import print_report, write_report
from ttc_graph.evaluation.runner import EvalReport, Evaluation, create_evaluation
from ttc_graph.evaluation.store import ResultStore

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
