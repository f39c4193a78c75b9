"""Evaluation harness: accuracy-vs-N curves that survive crashes.

Example::

    ev = create_evaluation(dataset="arithmetic", strategies="greedy,majority", ns="1,2,4")
    report = ev.run()  # resumes from runs/eval/results.sqlite
    write_report(report, ev.out)

The names load on first use (see ``__init__.pyi``).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
