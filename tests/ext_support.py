"""Write small third-party-style extensions into a folder for tests.

Each extension gets a unique module name: Python caches imported modules for the whole test
session, so reusing a name would silently run another test's code.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

OPERATOR_HEADER = """
from symphony_sdk import Operator, step
"""


def write_extension(
    root: Path,
    ext_id: str,
    body: str,
    *,
    steps: str = "",
    permissions: str = "",
    activation: str = "",
    extra: str = "",
    runtime: str = "",
    class_name: str = "Ext",
) -> Path:
    """Create ``root/<ext_id>/`` with a manifest and a module; return the folder.

    Args:
        body: the module's source after ``from symphony_sdk import Operator, step``; it must
            define ``class_name``.
        steps: TOML for ``[[contributes.steps]]`` tables.
        permissions: TOML body of ``[permissions]``.
        activation: TOML value of ``activation`` (e.g. ``["on_startup"]``).
    """
    module = f"ext_{ext_id.replace('.', '_').replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    folder = root / ext_id
    folder.mkdir(parents=True)
    (folder / f"{module}.py").write_text(
        textwrap.dedent(OPERATOR_HEADER) + textwrap.dedent(body), encoding="utf-8"
    )
    manifest = f"""
        {"activation = " + activation if activation else ""}

        [extension]
        id = "{ext_id}"
        name = "{ext_id} test extension"
        version = "1.0.0"
        type = "operator"
        entry = "{module}:{class_name}"
        {extra}

        [runtime]
        {runtime}

        [permissions]
        {permissions}
    """
    text = textwrap.dedent(manifest) + "\n" + textwrap.dedent(steps)
    (folder / "symphony-extension.toml").write_text(text, encoding="utf-8")
    return folder


ECHO_STEP = """
[[contributes.steps]]
type = "{step}"
[contributes.steps.inputs]
text = {{ type = "string", required = true }}
[contributes.steps.outputs]
text = {{ type = "string" }}
"""


def echo_step(step: str) -> str:
    """TOML declaring a step type that takes and returns ``text``."""
    return ECHO_STEP.format(step=step)
