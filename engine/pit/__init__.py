"""The Pit: in-process infrastructure of the engine (SPEC §3.5).

``artifacts`` keeps every output once, by content, with lineage and search; ``stale`` moves old
artifacts between storage tiers. Later parts (pool manager, arbitration, DAG tracker) join here.
"""
