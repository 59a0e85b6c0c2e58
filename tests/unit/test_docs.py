"""The pages in docs/ stay true to the code.

Each test reads a page the way a user would and compares what it names (modules, keys, palette
commands, sub-commands, errors, messages, start-up phases, links) with the code itself, so a
rename or an addition that the docs do not follow fails here with the page and the fix to make.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
from textual.binding import Binding

from engine.runtime import Engine
from engine.types import errors
from engine.types.messages import Command as EngineCommand
from engine.types.messages import Event, Reply, message_types
from symphony_cli.main import SUBCOMMANDS
from symphony_cli.main import app as cli_app
from symphony_tui.app import SymphonyApp
from symphony_tui.commands import COMMANDS
from symphony_tui.screens.main import MainScreen

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
ARCHITECTURE = DOCS / "architecture.md"
GUIDE = DOCS / "getting-started.md"
#: Command groups documented on a page of their own (the rest are in the guide's CLI table).
GROUP_PAGES = {
    "artifacts": DOCS / "artifacts.md",
    "ext": DOCS / "extensions.md",
    "mcp": DOCS / "mcp.md",
    "melody": DOCS / "melodies.md",
    "run": DOCS / "melodies.md",
    "runs": DOCS / "melodies.md",
    "ask": DOCS / "melodies.md",
    "watch": DOCS / "melodies.md",
}


def page_for(path: str) -> Path:
    """The page whose command table documents ``symphony <path>``."""
    return GROUP_PAGES.get(path.split(" ", 1)[0], GUIDE)


TREE_CHARS = re.compile(r"^((?:│   |    )*)[├└]── (\S+)")
FENCE = re.compile(r"^```.*?^```[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (e.g. ``## Start-up``) up to the next heading of its level."""
    level = heading.split(" ", 1)[0]
    lines = text.splitlines()
    start = lines.index(heading)
    end = len(lines)
    in_fence = False
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("```"):
            in_fence = not in_fence
        marker = lines[i].split(" ", 1)[0]
        if not in_fence and marker.startswith("#") and len(marker) <= len(level):
            end = i
            break
    return "\n".join(lines[start + 1 : end])


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every Markdown table outside code blocks as (header cells, body rows)."""
    found: list[tuple[list[str], list[list[str]]]] = []
    block: list[list[str]] = []
    for line in [*FENCE.sub("", text).splitlines(), ""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if len(block) >= 2 and set("".join(block[1])) <= set("-:"):
            found.append((block[0], block[2:]))
        block = []
    return found


def table(text: str, *header: str) -> list[list[str]]:
    """The body of the one table whose header row starts with ``header``."""
    matches = [rows for head, rows in tables(text) if tuple(head[: len(header)]) == header]
    assert len(matches) == 1, f"expected one table headed {header}, found {len(matches)}"
    return matches[0]


def source_tree() -> set[str]:
    """Paths named in the tree under ``## Source tree`` (folders end with ``/``)."""
    body = section(read(ARCHITECTURE), "## Source tree")
    blocks = FENCE.findall(body)
    assert len(blocks) == 1, "## Source tree must hold exactly one code block"
    paths: set[str] = set()
    stack: list[str] = []
    for line in blocks[0].splitlines()[1:-1]:
        if not line.strip():
            continue
        match = TREE_CHARS.match(line)
        if match is None:
            depth, name = 0, line.split()[0]
        else:
            depth, name = len(match.group(1)) // 4 + 1, match.group(2)
        assert depth <= len(stack), f"tree line skips a level: {line!r}"
        del stack[depth:]
        path = "".join(stack) + name
        paths.add(path)
        if name.endswith("/"):
            stack.append(name)
    return paths


def documented_modules() -> set[str]:
    """What the tree must name: the packages and modules of engine, the UI, the CLI and the SDK."""
    wanted: set[str] = set()
    for package in ("engine", "symphony_tui", "symphony_cli", "symphony_sdk"):
        for init in (ROOT / package).rglob("__init__.py"):
            folder = init.parent
            wanted.add(folder.relative_to(ROOT).as_posix() + "/")
            wanted.update(
                p.relative_to(ROOT).as_posix()
                for p in folder.glob("*.py")
                if p.name != "__init__.py"
            )
    return wanted


def test_architecture_tree_names_every_package_and_module() -> None:
    missing = sorted(documented_modules() - source_tree())
    assert not missing, f"add these to the Source tree in docs/architecture.md: {missing}"


def test_architecture_tree_names_only_real_paths() -> None:
    stale = sorted(p for p in source_tree() if not (ROOT / p).exists())
    assert not stale, f"docs/architecture.md names paths that do not exist: {stale}"


def test_tree_parser_reads_nesting() -> None:
    paths = source_tree()
    assert {"engine/", "engine/bus/", "engine/bus/queue.py", "symphony_tui/widgets/"} <= paths
    assert "engine/queue.py" not in paths


def _bindings(owner: type[SymphonyApp] | type[MainScreen]) -> list[Binding]:
    return [b if isinstance(b, Binding) else Binding(*b) for b in owner.BINDINGS]


def described_bindings() -> list[Binding]:
    return [b for b in [*_bindings(SymphonyApp), *_bindings(MainScreen)] if b.description]


def test_every_key_binding_is_in_the_keys_table() -> None:
    rows = table(read(GUIDE), "Key", "Footer label")
    documented = {(row[0], row[1], row[2]) for row in rows}
    for binding in described_bindings():
        row = (f"`{binding.key}`", binding.description, f"`{binding.id}`")
        assert row in documented, f"getting-started.md keys table lacks | {' | '.join(row)} |"
    keys = {row[0] for row in rows}
    assert f"`{SymphonyApp.COMMAND_PALETTE_BINDING}`" in keys


def test_keys_table_names_no_key_that_is_not_bound() -> None:
    bound = {f"`{b.key}`" for b in described_bindings()}
    bound.add(f"`{SymphonyApp.COMMAND_PALETTE_BINDING}`")
    extra = sorted({row[0] for row in table(read(GUIDE), "Key", "Footer label")} - bound)
    assert not extra, f"getting-started.md documents keys nothing binds: {extra}"


def key_for_action(action: str) -> str | None:
    """The key bound to a palette command's action, if any."""
    if action.startswith("screen."):
        candidates, name = _bindings(MainScreen), action.removeprefix("screen.")
    else:
        candidates, name = _bindings(SymphonyApp), action
    keys = [b.key for b in candidates if b.action == name and b.description]
    return keys[0] if keys else None


def test_every_palette_command_is_documented_with_its_key() -> None:
    rows = {row[0]: row for row in table(read(GUIDE), "Command", "Key")}
    for command in COMMANDS:
        assert command.title in rows, f"palette table lacks {command.title!r}"
        key = key_for_action(command.action)
        expected = f"`{key}`" if key else ""
        assert rows[command.title][1] == expected, (
            f"palette table: {command.title!r} should show key {expected or '(none)'}"
        )
    titles = [c.title for c in COMMANDS]
    stale = sorted(set(rows) - set(titles))
    assert not stale, f"palette table names commands that do not exist: {stale}"
    assert list(rows) == titles, "palette table must list the commands in palette order"


def cli_commands() -> dict[str, Any]:
    """Every visible command of ``symphony`` by its path, e.g. ``config show``."""
    found: dict[str, Any] = {}

    def walk(group: Any, prefix: str) -> None:
        for name, command in group.commands.items():
            if command.hidden:
                continue
            path = f"{prefix}{name}"
            found[path] = command
            if hasattr(command, "commands"):
                walk(command, path + " ")

    walk(typer.main.get_command(cli_app), "")
    return found


def cli_rows(page: Path = GUIDE) -> list[str]:
    """First cells of the command table on ``page``."""
    return [row[0] for row in table(read(page), "Command", "What it does")]


def row_for(path: str) -> str:
    """The command table's row for ``symphony <path>`` on the page that documents it."""
    page = page_for(path)
    pattern = re.compile(rf"`symphony {re.escape(path)}(?=[ `])")
    rows = [cell for cell in cli_rows(page) if pattern.match(cell)]
    assert len(rows) == 1, f"{page.name} needs one table row for `symphony {path}`"
    return rows[0]


def test_every_subcommand_is_documented() -> None:
    commands = cli_commands()
    assert set(SUBCOMMANDS) - {"open"} <= set(commands)
    for path in commands:
        if not hasattr(commands[path], "commands"):  # groups are documented by their commands
            row_for(path)
    assert any(cell.startswith("`symphony [PATH]`") for cell in cli_rows())


def test_every_cli_option_is_documented() -> None:
    root = typer.main.get_command(cli_app)
    commands = {"": root, **cli_commands()}
    for path, command in commands.items():
        for param in command.params:
            if param.param_type_name == "argument":  # shown by metavar (FILE…, REF), not name
                continue
            opts = [o for o in [*param.opts, *param.secondary_opts] if o not in ("--help", "-h")]
            if not opts:
                continue
            cell = row_for(opts[0]) if path == "" else row_for(path)
            assert any(re.search(rf"{re.escape(o)}\b", cell) for o in opts), (
                f"the table row of `symphony {path}` does not show {opts[0]}"
            )
            page = page_for(path) if path else GUIDE
            for opt in opts:
                assert re.search(rf"`[^`\n]*{re.escape(opt)}\b", read(page)), (
                    f"{page.name} does not mention {opt} of `symphony {path}`"
                )


def test_every_carets_command_and_option_is_documented() -> None:
    from symphony_cli.carets import app as carets_app

    page = read(DOCS / "extensions.md")
    rows = table(page, "Author command", "What it does")
    commands = typer.main.get_command(carets_app).commands  # type: ignore[attr-defined]
    for name, command in commands.items():
        found = [r for r in rows if re.match(rf"`carets {re.escape(name)}(?=[ `])", r[0])]
        assert len(found) == 1, f"extensions.md needs one Author command row for `carets {name}`"
        for param in command.params:
            for opt in [o for o in param.opts if o.startswith("--") and o != "--help"]:
                assert opt in " ".join(found[0]), f"the row of `carets {name}` lacks {opt}"
    named = {re.match(r"`carets ([^\s`]+)", r[0]).group(1) for r in rows}  # type: ignore[union-attr]
    assert named == set(commands), "extensions.md documents carets commands that do not exist"


def test_exit_code_table_matches_the_error_module() -> None:
    codes = {int(row[0]) for row in table(read(GUIDE), "Code")}
    contract = {
        errors.EXIT_OK,
        errors.EXIT_FAILED,
        errors.EXIT_USAGE,
        errors.EXIT_RETRYABLE,
        errors.EXIT_INTERRUPTED,
    }
    assert codes == contract


def error_classes() -> list[type[errors.SymphonyError]]:
    """The public hierarchy: every error class defined in ``engine.types.errors``."""
    found = [errors.SymphonyError]
    for cls in found:
        found.extend(cls.__subclasses__())
    return [cls for cls in found if cls.__module__ == errors.__name__]


def test_error_table_matches_the_hierarchy() -> None:
    rows = {row[0]: row for row in table(read(ARCHITECTURE), "Error")}
    classes = error_classes()
    assert set(rows) == {f"`{cls.__name__}`" for cls in classes}
    for cls in classes:
        row = rows[f"`{cls.__name__}`"]
        base = cls.__bases__[0]
        parent = "" if cls is errors.SymphonyError else f"`{base.__name__}`"
        assert row[1:4] == [parent, f"`{cls.code}`", str(cls.exit_code)], row


def test_message_table_lists_every_message_type() -> None:
    kinds = {EngineCommand: "Command", Event: "Event", Reply: "Reply"}
    rows = {row[1]: row[0] for row in table(read(ARCHITECTURE), "Kind")}
    expected = {
        f"`{cls.__name__}`": next(k for base, k in kinds.items() if issubclass(cls, base))
        for cls in message_types()
    }
    assert rows == expected


def test_start_up_phases_are_listed_in_their_real_order(tmp_path: Path) -> None:
    body = section(read(ARCHITECTURE), "## Start-up")
    documented = re.findall(r"^\d+\. `([a-z]+)`", body, re.MULTILINE)
    with Engine(tmp_path, watch_config=False) as engine:
        real = [result.name for result in engine.report.results]
    assert documented == real


def heading_anchors(text: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown page."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in FENCE.sub("", text).splitlines():
        match = re.match(r"#{1,6} (.+)", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def relative_links(path: Path) -> list[str]:
    prose = INLINE_CODE.sub("", FENCE.sub("", read(path)))
    return [t for t in LINK.findall(prose) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_to_existing_files(page: Path) -> None:
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        assert dest.exists(), f"{page.name}: link to missing {target}"
        if anchor and dest.suffix == ".md":
            assert anchor in heading_anchors(read(dest)), f"{page.name}: no heading for {target}"


def test_link_checker_sees_links() -> None:
    assert "docs/getting-started.md" in relative_links(ROOT / "README.md")
    assert "configuration.md" in relative_links(GUIDE)
    assert "#themes" in relative_links(GUIDE)


def test_docs_index_lists_every_page() -> None:
    index = set(relative_links(DOCS / "README.md"))
    pages = {p.name for p in DOCS.glob("*.md") if p.name != "README.md"}
    assert pages <= index, f"docs/README.md does not link {sorted(pages - index)}"


def test_published_manifest_schema_is_current() -> None:
    from engine.extensions.manifest import render_schema

    published = read(DOCS / "extension-manifest.schema.json")
    assert published == render_schema(), (
        "regenerate: python -m engine.extensions.manifest > docs/extension-manifest.schema.json"
    )


def test_published_marketplace_index_schema_is_current() -> None:
    from engine.extensions.marketplace import render_schema

    published = read(DOCS / "marketplace-index.schema.json")
    assert published == render_schema(), (
        "regenerate: python -m engine.extensions.marketplace > docs/marketplace-index.schema.json"
    )


def test_every_built_in_step_type_is_documented() -> None:
    from engine.extensions.discovery import discover

    page = read(DOCS / "extensions.md")
    rows = table(section(page, "## Built-in step types"), "Extension", "Step type")
    documented = {(row[0], row[1]) for row in rows}
    real = {
        (f"`{found.manifest.id}`", f"`{step.type}`")
        for found in discover([], packages=False)
        if found.manifest is not None
        for step in found.manifest.contributes.steps
    }
    assert documented == real


def test_the_melody_example_in_the_docs_is_valid() -> None:
    """The first melody on docs/melodies.md validates against the built-in step types."""
    from engine.extensions.discovery import discover
    from engine.melody.loader import parse_melody_text
    from engine.melody.validate import validate

    block = re.search(r"```toml\n(.*?)```", read(DOCS / "melodies.md"), re.DOTALL)
    assert block is not None
    melody = parse_melody_text(block.group(1), fmt="toml", source="docs/melodies.md")
    step_types = {
        step.type: step
        for found in discover([], packages=False)
        if found.manifest is not None
        for step in found.manifest.contributes.steps
    }
    assert validate(melody, source="docs/melodies.md", step_types=step_types) == []
