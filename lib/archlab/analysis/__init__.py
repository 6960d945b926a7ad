"""Analyses shared by the notebooks: statistics, gradient paths, routing."""
