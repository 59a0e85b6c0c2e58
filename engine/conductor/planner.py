"""Rule-based planning for ``symphony ask`` when no AI model plans (SPEC §3.6).

:func:`classify` maps a request in plain words onto intents (test, lint, fix, explain, search,
review, status, diff) with case-insensitive keyword and phrase rules; :func:`plan` turns the
intents into a melody named ``ask`` built from templates of built-in step types, with the
rationale shown to the user and the intents it cannot serve without an AI model.

The request is read clause by clause (split at ``,``, ``;``, "and", "then", "but"): a rule
preceded by a negation in its clause ("don't lint", "without the tests") does not count, paths
named in a clause belong to that clause's intents, and a search query is quoted text or the
words after "search/find/grep for". Weak cues ("check", "changes", "status") only count when
nothing stronger matched.

This module must stay pure: it never starts the engine, runs anything or writes files; the
workspace is only looked at to recognise the paths a request names. Plans never commit or
write files, except ``fix``, which runs ``ruff.check`` with ``fix = true``.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engine.melody.model import Melody, MelodyInfo, StepSpec

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

__all__ = ["ORDER", "Intent", "IntentName", "Plan", "classify", "plan", "understood"]

IntentName = Literal["test", "lint", "fix", "explain", "search", "review", "status", "diff"]

#: Order of the steps in a plan (and of intents with equal scores): fixes land before lint and
#: tests look at the files.
ORDER: tuple[IntentName, ...] = (
    "fix",
    "lint",
    "test",
    "review",
    "status",
    "diff",
    "search",
    "explain",
)
STRONG, WEAK = 0.8, 0.4


@dataclass(frozen=True, slots=True)
class Intent:
    """What a request asks for, with the evidence.

    Attributes:
        name: the intent.
        score: confidence in [0, 1]: strongest cue, plus 0.1 per further cue.
        matched: the words, phrases or paths that matched, in request order.
        paths: workspace paths (relative, POSIX) the request names for this intent.
        query: what to look for (``search`` only).
    """

    name: IntentName
    score: float
    matched: tuple[str, ...]
    paths: tuple[str, ...] = ()
    query: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A melody for a request, or the reasons there is none.

    Attributes:
        request: the request as given.
        melody: the melody ``ask`` to run; None when no intent can be served.
        intents: what the request was understood to ask for.
        rationale: which rules matched and why the steps are what they are.
        unsupported: one message per intent (or part) the plan leaves out, saying why.
    """

    request: str
    melody: Melody | None
    intents: tuple[Intent, ...]
    rationale: str
    unsupported: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``symphony ask --json``)."""
        steps = self.melody.steps if self.melody is not None else []
        return {
            "request": self.request,
            "intents": [
                {
                    "name": i.name,
                    "score": i.score,
                    "matched": list(i.matched),
                    "paths": list(i.paths),
                    "query": i.query,
                }
                for i in self.intents
            ],
            "steps": [
                {"id": s.id, "uses": s.uses, "with": s.with_, "needs": s.needs} for s in steps
            ],
            "rationale": self.rationale,
            "unsupported": list(self.unsupported),
        }


# --- classification ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    intent: IntentName
    pattern: re.Pattern[str]
    weight: float


def _rule(intent: IntentName, pattern: str, weight: float = STRONG) -> _Rule:
    return _Rule(intent, re.compile(pattern, re.IGNORECASE), weight)


_RULES = (
    _rule("test", r"\bunit[- ]?tests?\b"),
    _rule("test", r"\btest(?:s|ing)?\b(?:\s+suite)?"),
    _rule("test", r"\bpytest\b"),
    _rule("test", r"\bcheck(?:s|ing)?\b", WEAK),
    _rule("lint", r"\blint(?:s|ing|er|ers)?\b"),
    _rule("lint", r"\bruff\b"),
    _rule("lint", r"\b(?:code\s+)?style\b"),
    _rule("lint", r"\b(?:flake8|pep\s?8)\b"),
    _rule("fix", r"\b(?:auto-?)?fix(?:es|ed|ing)?\b"),
    _rule("fix", r"\b(?:re)?format(?:s|ted|ting)?\b"),
    _rule("explain", r"\bexplain(?:s|ed|ing)?\b"),
    _rule("explain", r"\bwhy\b"),
    _rule("explain", r"\b(?:what|how)\s+does\b", WEAK),
    _rule("review", r"\breview(?:s|ed|ing)?\b"),
    _rule("review", r"\bwhat(?:'s|\s+has|\s+have|\s+is)?\s+changed\b"),
    _rule("review", r"\bchang(?:es|ed)\b", WEAK),
    _rule("diff", r"\bdiffs?\b"),
    _rule("status", r"\bgit\s+status\b"),
    _rule("status", r"\b(?:uncommitted|untracked)\b"),
    _rule("status", r"\bstatus\b", WEAK),
)
_SEARCH = re.compile(
    r"\b(?:(?:find|search\s+for|look\s+for)\s+(?:all\s+)?)?"
    r"(?:usages?|occurrences?|references?|uses)\s+(?:of|to)\b"
    r"|\b(?:grep|search)(?:\s+for)?\b|\blook\s+for\b|\bfind(?:\s+for)?\b"
    r"|\bwhere(?:'s|\s+is|\s+are|\s+do|\s+does)\b",
    re.IGNORECASE,
)
_QUOTE = re.compile(r'"([^"]+)"|`([^`]+)`|(?<!\w)\'([^\']+)\'(?!\w)')
_CLAUSE = re.compile(
    r"\s+(?:and(?:\s+then)?|then|but|also|plus|&)\s+|\s*[,;!?]+\s*|:\s+|\.(?:\s+|$)", re.IGNORECASE
)
_WORD = re.compile(r"[\w']+")
_TOKEN = re.compile(r"[^\s\"'`,;()\[\]{}<>]+")
_LOCATION = re.compile(r"\s+(?:in|under|inside|within|across|from)\s+.*$", re.IGNORECASE)
_NEGATORS = frozenset(
    {"not", "no", "don't", "dont", "never", "without", "skip", "skipping", "except", "nor"}
)
_QUESTION = frozenset({"why", "how", "what", "where", "which", "who"})
_FILLERS = frozenset(
    {"the", "a", "an", "all", "any", "every", "we", "i", "you", "use", "for", "of", "to"}
    | {"word", "words", "string", "strings", "text", "term", "mentions"}
)
_TRAILERS = frozenset(
    {"defined", "declared", "used", "called", "implemented", "mentioned", "located", "is", "are"}
)
# Quoted text is replaced by a private-use marker while the request is split and matched.
_MARK = "\ue000{}\ue001"
_MARK_RE = re.compile("\ue000(\\d+)\ue001")


@dataclass
class _Found:
    """Evidence for one intent gathered across clauses."""

    weights: list[float] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    query: str | None = None

    def add(self, weight: float, what: str) -> None:
        self.weights.append(weight)
        if what not in self.matched:
            self.matched.append(what)


def classify(request: str, *, workspace: Path | None = None) -> list[Intent]:
    """The intents of ``request``, best first; empty when nothing is understood.

    Args:
        request: what the user asked, in plain words.
        workspace: the workspace root; paths named in the request are kept only when they exist
            in it (without a workspace no paths are extracted).
    """
    quotes: list[str] = []

    def hide(m: re.Match[str]) -> str:
        quotes.append(next(g for g in m.groups() if g is not None))
        return _MARK.format(len(quotes) - 1)

    masked = _QUOTE.sub(hide, request)
    used_quotes: set[int] = set()
    root = workspace.resolve() if workspace is not None else None
    clauses = [
        _read_clause(c, root, quotes, used_quotes) for c in _CLAUSE.split(masked) if c and c.strip()
    ]
    # "lint, fix and test src": a clause that is a single keyword shares the next clause's paths.
    pending: list[dict[IntentName, _Found]] = []
    loose_paths: list[str] = []
    for here, paths, bare in clauses:
        if bare:
            pending.append(here)
            continue
        for earlier in pending if paths else ():
            for f in earlier.values():
                f.paths += paths
        pending = []
        if not here:
            loose_paths += paths
    found: dict[IntentName, _Found] = {}
    for here, *_ in clauses:
        for name, f in here.items():
            total = found.setdefault(name, _Found())
            total.weights += f.weights
            total.matched += [m for m in f.matched if m not in total.matched]
            total.paths += [p for p in f.paths if p not in total.paths]
            total.query = total.query or f.query
    if any(max(f.weights) > WEAK for f in found.values()):
        found = {n: f for n, f in found.items() if max(f.weights) > WEAK}
    intents = [
        Intent(
            name=name,
            score=round(min(1.0, max(f.weights) + 0.1 * (len(f.weights) - 1)), 2),
            matched=tuple(f.matched),
            paths=tuple(f.paths + [p for p in loose_paths if p not in f.paths]),
            query=f.query if name == "search" else None,
        )
        for name, f in found.items()
    ]
    intents.sort(key=lambda i: (-i.score, ORDER.index(i.name)))
    return intents


def _read_clause(
    clause: str, root: Path | None, quotes: list[str], used_quotes: set[int]
) -> tuple[dict[IntentName, _Found], list[str], bool]:
    """The intents of one clause with their evidence, the paths it names (already given to
    its intents), and whether the clause is a single keyword ("lint")."""
    here: dict[IntentName, _Found] = {}
    text = clause
    search = _SEARCH.search(text)
    if search is not None and not _negated(text, search.start()):
        query, span_end, quote_idx = _query(text, search.end(), quotes)
        if quote_idx is not None:
            used_quotes.add(quote_idx)
        # A bare "find" is a weak cue; its words stay visible to the other rules, so
        # "find the failing tests" is about tests.
        weak = search.group(0).lower() == "find" and quote_idx is None
        f = here.setdefault("search", _Found())
        f.add(WEAK if weak else STRONG, search.group(0).lower())
        f.query = query
        if not weak:
            text = text[: search.start()] + " " * (span_end - search.start()) + text[span_end:]
    paths: list[str] = []
    if root is not None:
        text, paths = _paths(text, root, quotes, used_quotes)
    text = _MARK_RE.sub(" ", text)
    for rule in _RULES:
        for m in rule.pattern.finditer(text):
            if not _negated(text, m.start()):
                here.setdefault(rule.intent, _Found()).add(rule.weight, m.group(0).lower())
    tests = [p for p in paths if _test_like(p)]
    if not here and tests:
        here["test"] = _Found()
        here["test"].add(0.6, f"test path {tests[0]}")
    for f in here.values():
        f.paths += paths
    bare = bool(here) and not paths and len(_WORD.findall(clause)) == 1
    return here, paths, bare


def _negated(clause: str, start: int) -> bool:
    """A negation among the three words before ``start`` ("don't lint", "without tests");
    questions ("why don't the tests pass") are not negations."""
    words = [w.lower() for w in _WORD.findall(clause)]
    if words and words[0] in _QUESTION:
        return False
    before = [w.lower() for w in _WORD.findall(clause[:start])][-3:]
    return any(w in _NEGATORS for w in before)


def _query(clause: str, start: int, quotes: list[str]) -> tuple[str | None, int, int | None]:
    """The search query after a trigger: quoted text in the clause, else the words up to a
    location ("in src") without fillers. Returns (query, end of its span, quote index)."""
    quoted = _MARK_RE.search(clause)
    if quoted is not None:
        return quotes[int(quoted.group(1))], max(start, quoted.end()), int(quoted.group(1))
    rest = clause[start:]
    cut = _LOCATION.search(rest)
    phrase = rest[: cut.start()] if cut else rest
    words = phrase.split()
    while words and words[0].lower() in _FILLERS:
        words.pop(0)
    while words and words[-1].lower() in _TRAILERS:
        words.pop()
    end = start + (cut.start() if cut else len(rest))
    return (" ".join(words) or None), end, None


def _paths(
    text: str, root: Path, quotes: list[str], used_quotes: set[int]
) -> tuple[str, list[str]]:
    """Existing workspace paths named in ``text`` (words and unused quoted text); returns the
    text with them blanked out so their words match no rule, and the paths."""
    paths: list[str] = []

    def take(m: re.Match[str]) -> str:
        token = m.group(0)
        mark = _MARK_RE.fullmatch(token)
        if mark is not None:
            if int(mark.group(1)) in used_quotes:
                return token
            candidate = quotes[int(mark.group(1))]
        else:
            candidate = token.rstrip(".:!?")
            if "/" not in candidate and "." not in candidate and _is_keyword(candidate):
                return token
        rel = _existing(candidate, root)
        if rel is None:
            return token
        if rel not in paths:
            paths.append(rel)
        return " " * len(token)

    return _TOKEN.sub(take, text), paths


def _is_keyword(word: str) -> bool:
    return any(r.pattern.fullmatch(word) for r in _RULES) or bool(_SEARCH.fullmatch(word))


def _existing(candidate: str, root: Path) -> str | None:
    """``candidate`` as a workspace-relative POSIX path if it names something in the workspace
    (a pytest node id ``tests/test_a.py::test_x`` if its file exists)."""
    candidate, sep, node = candidate.partition("::")
    if candidate in ("", ".", "..", "./"):
        return None
    try:
        path = Path(candidate).expanduser()
        full = Path(os.path.normpath(path if path.is_absolute() else root / path))
        rel = full.relative_to(root)
        if not full.exists() or str(rel) == "." or (node and not full.is_file()):
            return None
    except (OSError, ValueError):
        return None
    return rel.as_posix() + sep + node


def _test_like(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (
        any(p in ("tests", "test") for p in parts)
        or (name.startswith("test_") and name.endswith(".py"))
        or name.endswith("_test.py")
    )


# --- planning ------------------------------------------------------------------------------

_TEMPLATES: dict[str, str] = {
    "fix": "ruff.check",
    "lint": "ruff.check",
    "test": "pytest.run",
    "status": "git.status",
    "diff": "git.diff",
    "find_files": "fs.glob",
    "grep": "shell.run",
}
_GREP = (
    "grep -rnI --exclude-dir=.git --exclude-dir=.symphony --exclude-dir=.venv"
    " --exclude-dir=node_modules --exclude-dir=__pycache__ -F -e"
)


def understood() -> str:
    """What rule-based ``ask`` understands, for messages when a request matches nothing."""
    return (
        "test ('run the tests', 'pytest tests/test_api.py'), lint ('lint src', 'ruff'),"
        " fix ('fix lint errors', 'format'), review ('review my changes', 'what changed'),"
        " status ('git status'), diff ('show the diff'),"
        " search (\"search for 'TODO'\", 'where is parse_config'),"
        " explain (needs an AI model)"
    )


def _lits(paths: list[str]) -> list[str]:
    return [_lit(p) for p in paths]


def _lit(text: str) -> str:
    """``text`` as a literal in a melody string (``${`` would start a reference)."""
    return text.replace("${", "$${")


def plan(
    request: str,
    *,
    workspace: Path,
    step_types: Mapping[str, object],
    models: Collection[str] = (),
) -> Plan:
    """A melody ``ask`` for ``request`` from built-in templates.

    Args:
        request: what the user asked.
        workspace: the workspace root (to recognise the paths the request names).
        step_types: the available step types by name (only their names are used).
        models: the names of the configured AI models (``aide.models``).

    Returns:
        The plan; its melody is None when no intent can be served (see ``unsupported``).
    """
    intents = tuple(classify(request, workspace=workspace))
    by_name = {i.name: i for i in intents}
    steps: list[StepSpec] = []
    unsupported: list[str] = []
    why: list[str] = []
    if intents:
        why.append(
            "understood: "
            + "; ".join(
                f"{i.name} ({', '.join(repr(m) for m in i.matched)}; score {i.score:g})"
                for i in intents
            )
        )

    def add(sid: str, with_: dict[str, Any], needs: list[str], description: str) -> None:
        uses = _TEMPLATES[sid]
        if uses not in step_types:
            unsupported.append(
                f"{sid} needs the step type {uses}, which no enabled extension offers"
                " (see `symphony ext list`)"
            )
            return
        present = {s.id for s in steps}
        steps.append(
            StepSpec(
                id=sid,
                uses=uses,
                with_=with_,
                needs=[n for n in needs if n in present],
                description=description,
            )
        )

    def paths_of(name: IntentName) -> list[str]:
        paths = by_name[name].paths
        if name != "test":  # pytest node ids are files to everything else
            paths = tuple(dict.fromkeys(p.partition("::")[0] for p in paths))
        return list(paths)

    if "fix" in by_name:
        add(
            "fix",
            {"paths": _lits(paths_of("fix")) or ["."], "fix": True},
            [],
            "apply ruff's safe fixes, then report what remains",
        )
        why.append(
            "fix runs ruff with fix = true (ruff's safe fixes only; the only step that writes"
            " files) before anything else looks at the files"
        )
    if "lint" in by_name:
        add("lint", {"paths": _lits(paths_of("lint")) or ["."]}, ["fix"], "lint with ruff")
    if "test" in by_name:
        add(
            "test", {"paths": _lits(paths_of("test"))}, ["fix", "lint"], "run the tests with pytest"
        )
        if "lint" in by_name:
            why.append("lint runs before test, so the plan reports lint before test results")
    review = "review" in by_name
    if review or "status" in by_name:
        add("status", {}, ["fix"], "git status: branch and changed files")
    if review or "diff" in by_name:
        files = _lits(paths_of("review" if review else "diff"))
        add("diff", {"files": files} if files else {}, ["fix"], "git diff of the working tree")
    if review:
        why.append("review = git status + git diff of the working tree (nothing is committed)")
    if "search" in by_name:
        _plan_search(by_name["search"].query, paths_of("search"), workspace, add, unsupported, why)
    if "explain" in by_name:
        if models:
            unsupported.append(
                "explain needs an AI instrument step (such as llm.chat) to send the question to"
                f" the configured model ({', '.join(sorted(models))}); rule-based ask cannot"
                " plan it yet"
            )
        else:
            unsupported.append(
                "explain needs an AI model; none is configured (add one under"
                " [aide.models.NAME] with base_url and model in .symphony/config.toml, see"
                " docs/configuration.md)"
            )
    if any(i.paths for i in intents):
        why.append("paths named in the request apply to the intents of the same clause")
    melody = None
    if steps:
        melody = Melody(
            melody=MelodyInfo(name="ask", description=_lit(f"ask: {request}")[:300]),
            steps=steps,
        )
    return Plan(request, melody, intents, "\n".join(why), unsupported)


def _plan_search(
    query: str | None,
    paths: list[str],
    workspace: Path,
    add: Any,
    unsupported: list[str],
    why: list[str],
) -> None:
    """``find_files`` (fs.glob, when the query can be part of a file name) and ``grep``."""
    if not query:
        unsupported.append(
            "search needs something to look for: quote it, e.g. symphony ask \"search for 'TODO'\""
        )
        return
    folders = [p for p in paths if (workspace / p).is_dir()]
    if not re.search(r"[\[\]\n]", query) and len(folders) == len(paths) <= 1:
        if re.search(r"[*?]", query):
            name = query if "/" in query else f"**/{query}"
        elif not re.search(r"\s|/", query):
            name = f"**/*{query}*"
        else:
            name = ""
        if name:
            pattern = f"{folders[0]}/{name}" if folders else name
            add("find_files", {"pattern": _lit(pattern)}, [], f"files named like {query!r}")
    where = " ".join(shlex.quote(p) for p in paths) or "."
    add(
        "grep",
        {"command": _lit(f"{_GREP} {shlex.quote(query)} -- {where}"), "check": False},
        [],
        f"lines containing {query!r}",
    )
    why.append(
        f"search for {query!r}: file names through fs.glob (when the query can be a name) and"
        " file contents through grep (fixed string, .git/.symphony/.venv left out)"
    )
