"""The conductor (SPEC §3.6): the single hub every step call goes through."""
