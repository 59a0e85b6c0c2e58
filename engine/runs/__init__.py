"""Melody runs: the DAG tracker (scheduler), run persistence, caching and resume (SPEC §4)."""
