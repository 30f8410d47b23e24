"""Hostile-input fuzzing of every API function with hypothesis (issue 6, item 2)."""
