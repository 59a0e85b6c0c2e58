"""Screens of the Symphony TUI; each owns its handlers and its ``.tcss`` file."""
