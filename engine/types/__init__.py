"""Engine-wide types: the message envelope, commands and events, and the error hierarchy."""

from __future__ import annotations
