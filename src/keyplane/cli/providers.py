"""`keyplane providers ...`: provider credentials (Bifrost's key objects), the catalog and the
operator's base-URL settings, over HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from keyplane.cli.common import (
    JsonOption,
    KeyOption,
    UrlOption,
    YesOption,
    api_client,
    confirm,
    deleted,
    pairs,
    show,
)
from keyplane.cli.output import Column, fail, print_json, print_message, print_table
from keyplane.client.providers import config_field, credential_body
from keyplane.client.types import CredentialChanges

app = typer.Typer(
    name="providers",
    help="Add, list, change and remove provider credentials; show the catalog and base-URL settings.",
    no_args_is_help=True,
)

CREDENTIAL_COLUMNS = (
    Column("id", whole=True),
    Column("provider"),
    Column("name", flex=True),
    Column("models", flex=True),
    Column("enabled"),
    Column("platform"),
    Column("status", flex=True),
)
CATALOG_COLUMNS = (
    Column("name", whole=True),
    Column("api_style", "style"),
    Column("base_url", "base URL"),
    Column("eu_native", "EU"),
    Column("zero_data_retention", "ZDR"),
    Column("requires_value", "needs value"),
    Column("display_name", "display name", flex=True),
)

ProviderArgument = Annotated[
    str, typer.Argument(help="Provider name, e.g. openai, azure, vllm (see catalog).")
]
KeyIdArgument = Annotated[str, typer.Argument(help="The credential's id.")]
ValueOption = Annotated[
    str | None,
    typer.Option(
        help="The API key (stored encrypted), or env.NAME to read it from the server's environment."
    ),
]
ValueStdinOption = Annotated[
    bool, typer.Option("--value-stdin", help="Read the value from standard input (keeps it out of history).")
]
ModelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--model", help="A model the credential serves, '*' for all (repeatable).", show_default=False
    ),
]
BlacklistOption = Annotated[
    list[str] | None,
    typer.Option("--blacklist-model", help="A model never served (repeatable).", show_default=False),
]
AliasOption = Annotated[
    list[str] | None,
    typer.Option(
        "--alias", help="NAME=UPSTREAM_MODEL, e.g. a deployment name (repeatable).", show_default=False
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="FIELD=VALUE of the provider's block, e.g. --set endpoint=https://... for azure_key_config,"
        " --set url=http://gpu:8000/v1 for vLLM (repeatable).",
        show_default=False,
    ),
]
WeightOption = Annotated[float | None, typer.Option(help="Share of traffic among matching credentials.")]
BodyOption = Annotated[
    Path | None,
    typer.Option(help="A JSON file with a whole key object ('-' for stdin); the other options override it."),
]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
        body = json.loads(text)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read the key object from {path}: {exc}") from exc
    if not isinstance(body, dict):
        raise fail(f"{path} must hold one JSON object")
    return body


def _value(value: str | None, value_stdin: bool) -> str | None:
    if value is not None and value_stdin:
        raise fail("--value and --value-stdin exclude each other")
    return sys.stdin.read().strip() if value_stdin else value


@app.command("list")
def list_credentials(
    provider: Annotated[str | None, typer.Argument(help="Only this provider's credentials.")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """The provider credentials your key may see (platform ones show only their id, name and models)."""
    with api_client(url, key) as client:
        rows = client.list_credentials(provider)
    if as_json:
        print_json(rows)
    else:
        print_table(rows, CREDENTIAL_COLUMNS, title=f"{len(rows)} credential(s)")


@app.command("get")
def get_credential(
    provider: ProviderArgument,
    key_id: KeyIdArgument,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """One credential, its secrets redacted."""
    with api_client(url, key) as client:
        show(client.get_credential(provider, key_id), as_json)


@app.command("add")
def add(
    provider: ProviderArgument,
    name: Annotated[str, typer.Argument(help="A name for the credential, unique in the org.")],
    value: ValueOption = None,
    value_stdin: ValueStdinOption = False,
    model: ModelOption = None,
    blacklist_model: BlacklistOption = None,
    alias: AliasOption = None,
    set_field: SetOption = None,
    weight: WeightOption = None,
    key_id: Annotated[str | None, typer.Option("--id", help="Choose the id (default: a new UUID).")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    platform: Annotated[
        bool, typer.Option("--platform", help="A platform credential for every org (operator admins).")
    ] = False,
    body: BodyOption = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a credential (admin key with providers:write); with no --model it serves every model."""
    payload = _read_json(body) if body else {}
    payload.update(
        credential_body(
            name,
            provider=provider,
            value=_value(value, value_stdin),
            models=model or None,
            blacklisted_models=blacklist_model or None,
            aliases=pairs(alias or [], "--alias") or None,
            weight=weight,
            enabled=False if disabled else None,
            platform=True if platform else None,
            key_id=key_id,
        )
    )
    fields = pairs(set_field or [], "--set")
    if fields:
        block = payload.get(config_field(provider))
        payload[config_field(provider)] = {**(block if isinstance(block, dict) else {}), **fields}
    with api_client(url, key) as client:
        show(client.create_credential(provider, payload), as_json)


@app.command("update")
def update(
    provider: ProviderArgument,
    key_id: KeyIdArgument,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    value: ValueOption = None,
    value_stdin: ValueStdinOption = False,
    model: ModelOption = None,
    blacklist_model: BlacklistOption = None,
    alias: AliasOption = None,
    set_field: SetOption = None,
    weight: WeightOption = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Serve with it or not.", show_default=False)
    ] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change only the given fields (the rest, secrets included, stay); --model replaces the list."""
    changes: CredentialChanges = {}
    secret = _value(value, value_stdin)
    if name is not None:
        changes["name"] = name
    if secret is not None:
        changes["value"] = secret
    if model:
        changes["models"] = model
    if blacklist_model:
        changes["blacklisted_models"] = blacklist_model
    if alias:
        changes["aliases"] = pairs(alias, "--alias")
    if set_field:
        changes["config"] = dict(pairs(set_field, "--set"))
    if weight is not None:
        changes["weight"] = weight
    if enabled is not None:
        changes["enabled"] = enabled
    if not changes:
        raise fail("nothing to change: pass at least one option (see --help)")
    with api_client(url, key) as client:
        show(client.update_credential(provider, key_id, **changes), as_json)


@app.command("remove")
def remove(
    provider: ProviderArgument,
    key_id: KeyIdArgument,
    yes: YesOption = False,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a credential: requests stop using it at once."""
    confirm(f"Remove {provider} credential {key_id}?", yes)
    with api_client(url, key) as client:
        client.delete_credential(provider, key_id)
    deleted(as_json, id=key_id)


@app.command("refresh-models")
def refresh_models(
    provider: ProviderArgument,
    key_id: KeyIdArgument,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ask the provider which models the credential serves; prints the discovered models."""
    with api_client(url, key) as client:
        row = client.refresh_models(provider, key_id)
    if as_json:
        print_json(row)
        return
    found = row.get("discovered_models", [])
    print_message(
        f"{len(found)} model(s) discovered for {key_id}"
        + (f" ({row['status']})" if row.get("status") else "")
    )
    for model in found:
        print_message(f"  {model}")


@app.command("catalog")
def catalog(url: UrlOption = None, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Every provider keyplane can route to, with its API style and effective base URL."""
    with api_client(url, key) as client:
        rows = client.list_providers()
    if as_json:
        print_json(rows)
    else:
        print_table(rows, CATALOG_COLUMNS, title=f"{len(rows)} provider(s)")


@app.command("settings")
def settings(
    provider: ProviderArgument,
    base_url: Annotated[
        str | None, typer.Option(help="Override the provider's base URL for every org (operator admin).")
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Go back to the built-in base URL.")] = False,
    url: UrlOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a provider's settings, or change its base URL with --base-url / --default."""
    if base_url is not None and default:
        raise fail("--base-url and --default exclude each other")
    with api_client(url, key) as client:
        if base_url is None and not default:
            info = client.get_provider(provider)
        else:
            info = client.set_provider_base_url(provider, None if default else base_url)
    show(info, as_json)
