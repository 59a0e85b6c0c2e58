"""The arbitration engine: named resources handed out all-or-nothing, with reasons (SPEC §3.5).

:class:`Arbiter` is the one entry point; ``acquire`` blocks until every unit a request needs is
free together and returns a :class:`Grant` to release. See ``engine.py`` for the rules.
"""

from __future__ import annotations

from engine.pit.arbitration.engine import Arbiter
from engine.pit.arbitration.grant import Grant
from engine.pit.arbitration.models import (
    PATH_PREFIX,
    STRATEGIES,
    Action,
    ArbiterMetrics,
    ArbitrationTimeout,
    Decision,
    Request,
    Resource,
    Strategy,
)

__all__ = [
    "PATH_PREFIX",
    "STRATEGIES",
    "Action",
    "Arbiter",
    "ArbiterMetrics",
    "ArbitrationTimeout",
    "Decision",
    "Grant",
    "Request",
    "Resource",
    "Strategy",
]
