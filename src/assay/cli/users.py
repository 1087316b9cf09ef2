"""``assay users``: add people and model contributors."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from assay.cli.common import DbOpt, HomeOpt, JsonOpt, console, new_app, open_cli_store, print_json
from assay.cli.serve import TokenOpt, UrlOpt, remote_client

app = new_app("users", "Add and list users (people and model contributors).")


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="annotator, reviewer, manager or admin.")] = "annotator",
    skills: Annotated[str | None, typer.Option(help="Comma-separated skills, e.g. physician,german.")] = None,
    kind: Annotated[str, typer.Option(help="human or model.")] = "human",
    password: Annotated[
        str | None, typer.Option(help="Password for the web sign-in (else a token only).")
    ] = None,
    cost_per_hour: Annotated[
        float | None, typer.Option(help="Cost of an hour of this contributor's work.")
    ] = None,
    cost_per_item: Annotated[
        float | None, typer.Option(help="Cost of one answer by this contributor.")
    ] = None,
    workspace: Annotated[str | None, typer.Option(help="Workspace (default: the default workspace).")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a user and print its API token once."""
    from assay.services import accounts

    skill_list = [s for s in (skills or "").split(",") if s.strip()]
    if url:
        with remote_client(url, token) as client:
            new = client.add_user(
                name,
                role=role,
                kind=kind,
                skills=skill_list,
                password=password,
                cost_per_hour=cost_per_hour,
                cost_per_item=cost_per_item,
                workspace=workspace,
            )
    else:
        with open_cli_store(home, db) as (store, actor):
            new = accounts.add_user(  # type: ignore[assignment]
                store,
                actor,
                name,
                role=role,
                kind=kind,
                skills=skill_list,
                password=password,
                cost_per_hour=cost_per_hour,
                cost_per_item=cost_per_item,
                workspace=workspace,
            )
    if as_json:
        print_json({"id": new.id, "name": new.name, "role": new.role, "kind": new.kind, "token": new.token})
    else:
        console.print(f"Added {new.kind} [bold]{new.name}[/bold] as {new.role}; API token (shown once):")
        console.print(new.token, soft_wrap=True, markup=False, highlight=False)


@app.command("list")
def list_(home: HomeOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List users."""
    from assay.services import accounts

    with open_cli_store(home, db) as (store, actor):
        rows = accounts.list_users(store, actor)
        if as_json:
            print_json(rows)
            return
        table = Table("id", "name", "role", "kind", "skills")
        for u in rows:
            table.add_row(str(u["id"]), u["name"], u["role"], u["kind"], ",".join(u["skills"] or []))
        console.print(table)


@app.command("password")
def password(
    name: Annotated[str, typer.Argument(help="User name.")],
    new_password: Annotated[
        str | None,
        typer.Option("--password", help="The new password (asked for, hidden, when left out)."),
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Set a user's password for the web sign-in (at least 8 characters)."""
    from assay.services import accounts

    if new_password is None:
        new_password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with open_cli_store(home, db) as (store, actor):
        accounts.set_password(store, actor, name, new_password)
    console.print(f"Set the password of {name!r}.", markup=False, highlight=False)


@app.command("erase")
def erase(
    name: Annotated[str, typer.Argument(help="The person's user name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Erase a contributor (right to erasure): the name becomes a pseudonym, the password, tokens
    and settings are removed; the answers stay and keep counting. Admins only; audited."""
    from assay.services import personal_data

    if not yes and not typer.confirm(f"Erase {name!r}? Their name cannot be restored.", default=False):
        raise typer.Exit(1)
    with open_cli_store(home, db) as (store, actor):
        done = personal_data.erase_contributor(store, actor, name)
    if as_json:
        print_json(done)
    else:
        console.print(
            f"Erased {name!r}: now {done['pseudonym']} (user {done['user_id']}); "
            f"{done['tokens_removed']} token(s) removed; their answers stay.",
            markup=False,
            highlight=False,
        )
