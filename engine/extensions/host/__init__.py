"""Extensions in their own process: the host process, its supervisor and the wire between.

:class:`HostedExtension` is what the extension manager uses for an extension whose
``runtime.isolation`` is ``process`` (the default for every extension not built in).
"""

from __future__ import annotations

from engine.extensions.host.sandbox import sandbox_problem
from engine.extensions.host.supervisor import HostedExtension

__all__ = ["HostedExtension", "sandbox_problem"]
