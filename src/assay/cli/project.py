"""``assay project``: create, list and show projects."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from assay.cli.common import DbOpt, HomeOpt, JsonOpt, console, new_app, open_cli_store, print_json
from assay.cli.serve import TokenOpt, UrlOpt, remote_client

if TYPE_CHECKING:
    from assay.domain.schema import ProjectSchema

app = new_app("project", "Create, list and show projects.")


def read_schema(path: Path) -> ProjectSchema:
    from assay.domain.errors import ValidationError
    from assay.domain.schema import ProjectSchema

    if not path.exists():
        raise ValidationError("no such file", file=str(path))
    try:
        return ProjectSchema.from_text(path.read_text(encoding="utf-8"))
    except ValidationError as e:
        raise e.at(file=str(path)) from None


@app.command("create")
def create(
    schema: Annotated[Path, typer.Option("--schema", help="Schema file (YAML or JSON).")],
    name: Annotated[str | None, typer.Option(help="Project name (default: the schema's name).")] = None,
    workspace: Annotated[str | None, typer.Option(help="Workspace (default: the default workspace).")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a project from a schema file."""
    if url:
        with remote_client(url, token) as client:
            project = client.create_project(read_schema(schema), name=name, workspace=workspace).raw
        _print_created(project, as_json)
        return
    from assay.services import projects

    with open_cli_store(home, db) as (store, actor):
        project = projects.create_project(store, actor, read_schema(schema), name=name, workspace=workspace)
    _print_created(project, as_json)


def _print_created(project: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(project)
    else:
        console.print(f"Created project [bold]{project['name']}[/bold] (id {project['id']}).")


@app.command("list")
def list_(
    home: HomeOpt = None,
    db: DbOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List projects with their record counts."""
    if url:
        with remote_client(url, token) as client:
            _print_projects([p.raw for p in client.projects()], as_json)
        return
    from assay.services import projects

    with open_cli_store(home, db) as (store, actor):
        _print_projects(projects.list_projects(store, actor), as_json)


def _print_projects(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json([{k: v for k, v in p.items() if k != "schema"} for p in rows])
        return
    table = Table("id", "name", "records", "schema v", "guidelines v")
    for p in rows:
        table.add_row(
            str(p["id"]),
            p["name"],
            str(p["records"]),
            str(p["schema_version"]),
            str(p["guidelines_version"]),
        )
    console.print(table)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Project name or id.")],
    home: HomeOpt = None,
    db: DbOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a project: its schema, versions and counts."""
    if url:
        with remote_client(url, token) as client:
            _print_project(client.project(name).raw, as_json)
        return
    from assay.services import projects

    with open_cli_store(home, db) as (store, actor):
        _print_project(projects.get_project(store, actor, name), as_json)


def _print_project(p: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(p)
        return
    schema = p["schema"]
    console.print(f"[bold]{p['name']}[/bold] (id {p['id']})")
    console.print(f"schema version {p['schema_version']}, guidelines version {p['guidelines_version']}")
    console.print(
        f"records {p['records']} (gold {p.get('gold_records', '?')}, done {p.get('done_records', '?')})"
    )
    console.print("fields: " + ", ".join(f"{f['name']} ({f['type']})" for f in schema["fields"]))
    console.print("questions: " + ", ".join(f"{q['name']} ({q['type']})" for q in schema["questions"]))
