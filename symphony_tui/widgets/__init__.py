"""Reusable widgets of the Symphony TUI, one family per module."""
