"""Bayesian optimization: the Ax adapter (the only module that imports Ax) and the suggestion workers."""
