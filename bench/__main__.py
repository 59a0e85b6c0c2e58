"""Run every benchmark: ``python -m bench`` (or ``make bench``)."""

from __future__ import annotations

import platform
import sys

from bench import (
    bench_arbitration,
    bench_artifacts,
    bench_board,
    bench_bus,
    bench_editor,
    bench_ext_host,
    bench_extensions,
    bench_ipc,
    bench_melody,
    bench_models,
    bench_pool,
    bench_runs,
    bench_startup,
    bench_terminal,
    bench_terminal_ui,
    bench_vdom,
)
from bench.common import print_table


def main() -> None:
    print(
        f"Symphony benchmarks: Python {platform.python_version()} on {sys.platform};"
        " each figure next to a baseline measured in the same run"
    )
    print_table("in-process bus", bench_bus.run())
    print_table(bench_ipc.TITLE, bench_ipc.run())
    print_table("artifact store", bench_artifacts.run())
    print_table("extensions", bench_extensions.run())
    print_table(bench_ext_host.TITLE, bench_ext_host.run())
    print_table("arbitration", bench_arbitration.run())
    print_table("pool manager", bench_pool.run())
    print_table("melodies (10,000 steps)", bench_melody.run())
    print_table(f"melody runs ({bench_runs.STEPS:,} no-op steps)", bench_runs.run())
    print_table(f"start-up (median of {bench_startup.RUNS} runs)", bench_startup.run())
    print_table(bench_terminal.TITLE, bench_terminal.run())
    print_table(bench_terminal_ui.TITLE, bench_terminal_ui.run())
    print_table(bench_editor.TITLE, bench_editor.run())
    print_table(bench_vdom.TITLE, bench_vdom.run())
    print_table(bench_board.TITLE, bench_board.run())
    print_table(bench_models.TITLE, bench_models.run())


if __name__ == "__main__":
    main()
