"""`keyplane workspaces ...` and `keyplane project-config ...`: the org's workspaces and the
inference config of the key's workspace (Cortecs's project config), over HTTP."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, cast

import typer

from keyplane.cli.common import JsonOption, KeyOption, UrlOption, api_client, show
from keyplane.cli.output import Column, fail, print_json, print_record, print_table
from keyplane.client.types import InferenceConfigChanges, ProjectConfig
from keyplane.client.types import Preference as Routing

workspaces_app = typer.Typer(
    name="workspaces", help="List, create and rename the org's workspaces.", no_args_is_help=True
)
project_config_app = typer.Typer(
    name="project-config",
    help="Show and change the inference config of the key's workspace (providers, EU, max tokens...).",
    no_args_is_help=True,
)

COLUMNS = (
    Column("id", whole=True),
    Column("name", flex=True),
    Column("is_default", "default"),
    Column("created_at", "created"),
)
NameArgument = Annotated[str, typer.Argument(help="The workspace's name.")]


class Preference(StrEnum):
    speed = "speed"
    cost = "cost"
    balanced = "balanced"
    none = "none"


@workspaces_app.command("list")
def list_workspaces(url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """The org's workspaces; keys, budgets and project configs belong to one."""
    with api_client(url, key) as client:
        found = client.list_workspaces()
    if as_json:
        print_json(found)
    else:
        print_table(found, COLUMNS, title=f"{len(found)} workspace(s)")


@workspaces_app.command("create")
def create(
    name: NameArgument, url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False
) -> None:
    """Create a workspace (admin key with orgs:write)."""
    with api_client(url, key) as client:
        show(client.create_workspace(name), as_json)


@workspaces_app.command("rename")
def rename(
    workspace_id: Annotated[str, typer.Argument(help="The workspace's id.")],
    name: NameArgument,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rename a workspace (admin key with orgs:write)."""
    with api_client(url, key) as client:
        show(client.rename_workspace(workspace_id, name), as_json)


def _flat(config: ProjectConfig) -> dict[str, Any]:
    """The config as one record: its own fields, then each inference setting."""
    flat: dict[str, Any] = {name: value for name, value in config.items() if name != "inference_config"}
    flat.update(config["inference_config"])
    return flat


def _show_config(config: ProjectConfig, as_json: bool) -> None:
    if as_json:
        print_json(config)
    else:
        print_record(_flat(config))


@project_config_app.command("show")
def show_config(url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """The project config of the key's workspace (settings:read)."""
    with api_client(url, key) as client:
        _show_config(client.get_project_config(), as_json)


def _switch(on: str, off: str, what: str) -> Any:
    return typer.Option(f"--{on}/--{off}", help=what, show_default=False)


@project_config_app.command("set")
def set_config(
    allowed_provider: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-provider", help="Route only to these providers (repeatable).", show_default=False
        ),
    ] = None,
    any_provider: Annotated[
        bool, typer.Option("--any-provider", help="Clear the allowed list: every provider may serve.")
    ] = False,
    eu_native: Annotated[
        bool | None, _switch("eu-native", "no-eu-native", "Only EU-native providers.")
    ] = None,
    quantization: Annotated[
        bool | None, _switch("allow-quantization", "no-quantization", "Allow quantized models.")
    ] = None,
    zero_data_retention: Annotated[
        bool | None,
        _switch(
            "allow-zero-data-retention", "no-zero-data-retention", "Allow zero-data-retention providers."
        ),
    ] = None,
    model_fallback: Annotated[
        bool | None, _switch("model-fallback", "no-model-fallback", "Fall back to another provider.")
    ] = None,
    preference: Annotated[
        Preference | None, typer.Option(help="Route for speed, cost or balanced; 'none' clears it.")
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Cap max_tokens of every request.")] = None,
    no_max_tokens: Annotated[
        bool, typer.Option("--no-max-tokens", help="Remove the max_tokens cap.")
    ] = False,
    allow_overwrite: Annotated[
        bool | None,
        _switch("allow-overwrite", "no-allow-overwrite", "Let requests override these settings."),
    ] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change only the given settings of the key's workspace (admin key with settings:write)."""
    if allowed_provider and any_provider:
        raise fail("--allowed-provider and --any-provider exclude each other")
    if max_tokens is not None and no_max_tokens:
        raise fail("--max-tokens and --no-max-tokens exclude each other")
    changes: InferenceConfigChanges = {}
    if allowed_provider or any_provider:
        changes["allowed_providers"] = list(allowed_provider or [])
    if eu_native is not None:
        changes["eu_native"] = eu_native
    if quantization is not None:
        changes["allow_quantization"] = quantization
    if zero_data_retention is not None:
        changes["allow_zero_data_retention"] = zero_data_retention
    if model_fallback is not None:
        changes["enable_model_fallback"] = model_fallback
    if preference is not None:
        changes["preference"] = None if preference is Preference.none else cast(Routing, preference.value)
    if max_tokens is not None or no_max_tokens:
        changes["max_tokens"] = max_tokens
    if not changes and allow_overwrite is None:
        raise fail("nothing to change: pass at least one option (see --help)")
    with api_client(url, key) as client:
        _show_config(client.update_project_config(changes, allow_overwrite=allow_overwrite), as_json)
