"""The engine never imports the UI, and ``symphony --help`` stays lean (STYLE 2, 5)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parents[2]


def _engine_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(engine.__path__, "engine."))


def test_every_engine_module_imports_without_textual() -> None:
    modules = _engine_modules()
    assert len(modules) > 10, modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'symphony_tui'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "", f"engine pulled in UI modules: {result.stdout}"


def test_cli_help_imports_neither_textual_nor_the_ui() -> None:
    code = (
        "import sys\n"
        "from symphony_cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "banned = ('textual', 'symphony_tui', 'extensions', 'watchfiles')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in banned)\n"
        "sys.stderr.write('LOADED:' + ','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "Usage: symphony" in result.stdout
    assert result.stderr.endswith("LOADED:"), result.stderr


def test_doctor_theme_checks_do_not_import_textual() -> None:
    code = (
        "import sys\n"
        "import symphony_cli.doctor, symphony_tui.theme_files\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('textual'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == ""
