"""Main-area views of the orchestration: Harmony Board, runs, artifacts, extensions."""
