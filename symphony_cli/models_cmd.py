"""``symphony models list|add|remove|test``: configure AI models and check they answer.

Models live under ``aide.models.NAME`` in the project configuration (``.symphony/config.toml``)
or, with ``--user``, the user's. ``add`` checks the entry with the real configuration model
(and the whole configuration after it) before writing anything, so a bad URL or value is an
error naming the key and leaves the file as it was. API keys are never written or printed: a
model names the environment variable that holds its key, and ``list`` only says whether it is
set. See docs/instruments.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from engine.types.errors import ConfigError, ModelError, UsageError
from symphony_cli.output import (
    WorkspaceOption,
    emit_json,
    load_workspace_config,
    out,
    resolve_workspace,
    say,
)

if TYPE_CHECKING:
    from engine.config import LoadedConfig
    from engine.config.models import ModelConfig

app = typer.Typer(help="Configure AI models and check they answer.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
UserOption = Annotated[
    bool, typer.Option("--user", help="The user configuration instead of the project's.")
]


def _layer(user: bool) -> str:
    return "user" if user else "project"


def default_of(loaded: LoadedConfig) -> str | None:
    """The model used when none is named, or None when one must be named."""
    aide = loaded.config.aide
    if aide.default_model:
        return str(aide.default_model)
    return next(iter(aide.models)) if len(aide.models) == 1 else None


def _key_state(config: ModelConfig) -> str:
    if not config.api_key_env:
        return "no key"
    state = "set" if os.environ.get(config.api_key_env) else "NOT SET"
    return f"{config.api_key_env} ({state})"


def _price(config: ModelConfig) -> str:
    if config.input_price is None and config.output_price is None:
        return "-"
    return f"${config.input_price or 0:g}/${config.output_price or 0:g} per M"


@app.command("list")
def list_models(
    ctx: typer.Context, json_: JsonOption = False, workspace: WorkspaceOption = Path()
) -> None:
    """List the configured models: endpoint, model, key variable (set or not), prices."""
    from engine.instruments.models import HOW_TO_CONFIGURE

    _root, loaded = load_workspace_config(ctx, workspace)
    models = loaded.config.aide.models
    default = default_of(loaded)
    if json_:
        emit_json(
            {
                "default": default,
                "models": [
                    {
                        "name": name,
                        "base_url": m.base_url,
                        "model": m.model,
                        "api_key_env": m.api_key_env,
                        "api_key_set": bool(m.api_key_env and os.environ.get(m.api_key_env)),
                        "default": name == default,
                        "input_price": m.input_price,
                        "output_price": m.output_price,
                        "source": loaded.origins[f"aide.models.{name}.base_url"].source,
                    }
                    for name, m in sorted(models.items())
                ],
            }
        )
        return
    if not models:
        say(HOW_TO_CONFIGURE)
        return
    rows = [("", "NAME", "BASE URL", "MODEL", "KEY", "PRICE (IN/OUT)")]
    for name, m in sorted(models.items()):
        mark = "*" if name == default else ""
        rows.append((mark, name, m.base_url, m.model, _key_state(m), _price(m)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if default is None:
        say("no default model: name one (--model) or set aide.default_model")


def _check_url(url: str, key: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{url!r} is not an http(s) URL; write the API's base URL, e.g."
            " http://localhost:11434/v1",
            key=key,
        )


def _check_name(name: str) -> None:
    if not name or any(ch.isspace() or ch in ".\"'[]=" for ch in name):
        raise UsageError(
            f"model name {name!r}: use letters, digits, '-' or '_' (it becomes the key"
            " aide.models.NAME)"
        )


def validated(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked with the real configuration model; errors name the key.

    Raises:
        ConfigError: a value is invalid (the first problem, with its key).
    """
    from pydantic import ValidationError

    from engine.config.models import ModelConfig

    prefix = f"aide.models.{name}"
    _check_url(str(values.get("base_url", "")), f"{prefix}.base_url")
    try:
        ModelConfig.model_validate(values)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(str(first["msg"]), key=f"{prefix}.{field}") from None
    return values


def _service(ctx: typer.Context, workspace: Path) -> Any:
    from engine.config import ConfigService

    root = resolve_workspace(workspace)
    return ConfigService(root, overrides=ctx.find_root().obj["overrides"])


@app.command()
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Name to call the model by.")],
    base_url: Annotated[
        str,
        typer.Option(
            "--base-url", help="Base URL of the API, e.g. http://localhost:11434/v1 (Ollama)."
        ),
    ],
    model: Annotated[str, typer.Option("--model", help="Model name sent to the API.")],
    api_key_env: Annotated[
        str | None,
        typer.Option("--api-key-env", metavar="VAR", help="Variable holding the API key."),
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Make it the default model (aide.default_model).")
    ] = False,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", metavar="N", help="Longest reply, in tokens.")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", metavar="T", help="Sampling temperature.")
    ] = None,
    input_price: Annotated[
        float | None,
        typer.Option("--input-price", metavar="P", help="USD per million prompt tokens."),
    ] = None,
    output_price: Annotated[
        float | None,
        typer.Option("--output-price", metavar="P", help="USD per million completion tokens."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a model of that name.")
    ] = False,
    user: UserOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Add a model endpoint (any OpenAI-compatible server) to the configuration."""
    _check_name(name)
    if api_key_env is not None and api_key_env.startswith(("sk-", "Bearer ")):
        raise UsageError(
            "--api-key-env takes the NAME of the variable holding the key (e.g."
            " OPENAI_API_KEY), never the key itself"
        )
    options = {
        "api_key_env": api_key_env,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "input_price": input_price,
        "output_price": output_price,
    }
    values: dict[str, Any] = {"base_url": base_url, "model": model}
    values.update({k: v for k, v in options.items() if v is not None})
    validated(name, values)
    service = _service(ctx, workspace)
    if name in service.current.config.aide.models and not replace:
        where = service.current.origins[f"aide.models.{name}.base_url"].source
        raise UsageError(f"a model named {name!r} exists ({where}); add --replace to overwrite it")
    layer = _layer(user)
    if replace:
        service.set_value(f"aide.models.{name}", None, layer)
    path = service.set_value(f"aide.models.{name}", values, layer)
    say(f"added model {name!r} to {path}")
    if default:
        service.set_value("aide.default_model", name, layer)
        say(f"{name!r} is the default model")
    say(f"check it answers: symphony models test {name}")


@app.command()
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The model to remove.")],
    user: UserOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Remove a model from the project (or, with --user, the user) configuration."""
    from engine.config.loader import read_layers

    service = _service(ctx, workspace)
    layer = _layer(user)
    layers, _files = read_layers(service.workspace, overrides=ctx.find_root().obj["overrides"])
    data = next((x.data for x in layers if x.name == layer), {})
    found = data.get("aide")
    aide: dict[str, Any] = found if isinstance(found, dict) else {}
    if name not in (aide.get("models") or {}):
        other = "project" if user else "user"
        other_data = next((x.data for x in layers if x.name == other), {})
        other_models = ((other_data.get("aide") or {}).get("models")) or {}
        flag = "add --user" if other == "user" else "drop --user"
        hint = f" (it is in the {other} configuration: {flag})"
        raise UsageError(
            f"no model named {name!r} in the {layer} configuration"
            + (hint if name in other_models else "")
        )
    if aide.get("default_model") == name:
        service.set_value("aide.default_model", None, layer)
    path = service.set_value(f"aide.models.{name}", None, layer)
    say(f"removed model {name!r} from {path}")


@app.command()
def test(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(metavar="NAME", help="The model (default: the default one).")
    ] = None,
    json_: JsonOption = False,
    workspace: WorkspaceOption = Path(),
) -> None:
    """Send a one-word prompt and report the reply, time to first token, tokens and cost."""
    from engine.instruments.exchanges import summary
    from engine.instruments.models import Models, probe

    _root, loaded = load_workspace_config(ctx, workspace)
    models = Models(lambda: loaded.config.aide)
    try:
        chosen = models.resolve(name)
        config = models.config(chosen)
        try:
            result, first_ms = probe(models, chosen)
        except ModelError as e:
            say(f"model {chosen!r} at {config.base_url} did not answer")
            say(f"hint: {_hint(e, config)}")
            raise
    finally:
        models.close()
    usage = result.usage
    if json_:
        emit_json(
            {
                "name": chosen,
                "model": result.model,
                "reply": result.text,
                "first_token_ms": round(first_ms, 1),
                "total_ms": round(result.duration_ms, 1),
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
                "cost": result.cost,
            }
        )
        return
    out(f"{chosen}: {result.text.strip()!r} from {result.model}")
    out(f"first token {first_ms:.0f} ms, total {result.duration_ms:.0f} ms")
    out(
        summary(
            usage.prompt_tokens if usage else None,
            usage.completion_tokens if usage else None,
            result.cost,
        )
    )


def _hint(error: ModelError, config: ModelConfig) -> str:
    from engine.types.errors import ModelUnavailable

    if isinstance(error, ModelUnavailable):
        return f"is the server at {config.base_url} running and reachable? (it is retried)"
    if error.status in (401, 403):
        return f"check the key in ${config.api_key_env or '(api_key_env is not set)'}"
    if error.status == 404:
        return f"check the base URL (usually ending in /v1) and that it serves {config.model!r}"
    if config.api_key_env and not os.environ.get(config.api_key_env):
        return f"export {config.api_key_env}=… before running symphony"
    return "check the entry with `symphony models list` and `symphony config show -k aide`"
