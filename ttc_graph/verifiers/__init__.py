"""Verifiers score each step of candidate solutions in [0, 1]."""

from ttc_graph.verifiers.base import AGGREGATIONS, Aggregation, Verifier, VerifierInput, aggregate

__all__ = ["AGGREGATIONS", "Aggregation", "Verifier", "VerifierInput", "aggregate"]
