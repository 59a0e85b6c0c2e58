"""Built-in ``shell.run`` operator: run a command line with ``/bin/sh -c``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from symphony_sdk import Operator, step

if TYPE_CHECKING:
    from collections.abc import Mapping

    from symphony_sdk import StepContext


class ShellCommandFailed(Exception):
    """The command exited non-zero (or timed out) and the step checks the status."""


class ShellOperator(Operator):
    """Run shell commands in the workspace."""

    @step("shell.run")
    def run(self, ctx: StepContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        env = inputs["env"] or {}
        bad = [k for k, v in env.items() if not isinstance(v, str)]
        if bad:
            raise ValueError(f"env value of {bad[0]!r} must be a string")
        stdin = inputs["stdin"]
        result = ctx.run(
            ["/bin/sh", "-c", inputs["command"]],
            cwd=inputs["cwd"],
            env=env,
            input=stdin.encode() if stdin is not None else None,
            timeout=inputs["timeout_s"],
            on_output=lambda stream, text: ctx.log.info("%s: %s", stream, text.rstrip("\n")),
        )
        outputs = {
            "stdout": result.stdout,
            "stderr": result.stderr,
            "exit_code": result.returncode,
            "duration_s": result.duration_s,
            "timed_out": result.timed_out,
        }
        if inputs["check"] and not result.ok:
            why = (
                f"timed out after {inputs['timeout_s']:g} s"
                if result.timed_out
                else f"exited with status {result.returncode}"
            )
            tail = result.stderr.strip().splitlines()[-5:]
            detail = ("\n" + "\n".join(tail)) if tail else ""
            raise ShellCommandFailed(f"{inputs['command']!r} {why}{detail}")
        return outputs
