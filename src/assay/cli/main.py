"""The ``assay`` command line."""

from __future__ import annotations

from typing import Annotated

import typer

from assay.cli import (
    ai_first,
    consensus,
    data,
    datacard,
    datasets,
    demo,
    explain,
    jobs,
    rlhf,
    safety,
    serve,
    synth,
    traces,
)
from assay.cli.audit import app as audit_app
from assay.cli.common import (
    ACTING_AS,
    AssayGroup,
    DbOpt,
    HomeOpt,
    JsonOpt,
    console,
    open_cli_store,
    print_json,
    settings_for,
)
from assay.cli.project import app as project_app
from assay.cli.quality import app as quality_app
from assay.cli.users import app as users_app

app = typer.Typer(
    name="assay",
    help="assay: an open data engine for human and AI feedback.",
    cls=AssayGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(project_app, name="project")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(
    quality_app, name="quality", help="Aggregate and measure crowd answers from CSV or Parquet files."
)
for module in (
    serve,
    data,
    traces,
    consensus,
    rlhf,
    demo,
    jobs,
    ai_first,
    synth,
    datacard,
    datasets,
    explain,
    safety,
):
    module.register(app)


@app.callback()
def _global_options(
    acting_as: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="ASSAY_AS",
            help="The assay user this command acts as (default: the one named as the OS user, "
            "else the first admin); the audit log names it.",
        ),
    ] = None,
) -> None:
    """assay: an open data engine for human and AI feedback."""
    ACTING_AS[0] = acting_as


@app.command()
def init(
    home: HomeOpt = None,
    db: DbOpt = None,
    admin: Annotated[str, typer.Option(help="Name of the first admin.")] = "admin",
    password: Annotated[str | None, typer.Option(help="Password for the admin's web sign-in.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create the data directory and its database, and an admin; print the admin's API token once.

    On an instance already initialised, ``--password`` sets the admin's password."""
    from assay.services import accounts

    settings = settings_for(home, db)
    settings.home.mkdir(parents=True, exist_ok=True)
    with open_cli_store(home, db, create=True) as (store, actor):
        new = accounts.init_instance(store, admin_name=admin, password=password)
        info: dict[str, str | None] = {"home": str(settings.home.resolve()), "database": settings.db_url}
        if new is None:
            if password is not None:
                accounts.set_password(store, actor, admin, password)
            info["admin"] = admin
            info["token"] = None
            if as_json:
                print_json(info | {"password_set": password is not None})
            else:
                console.print(f"assay is already initialised at {info['database']} (admin {admin!r} exists).")
                if password is not None:
                    console.print(f"Set the password of {admin!r}.", markup=False)
            return
        info.update({"admin": new.name, "token": new.token})
        if as_json:
            print_json(info)
        else:
            console.print(f"Initialised assay at [bold]{info['database']}[/bold]")
            console.print(f"Admin [bold]{new.name}[/bold]; API token (shown once, keep it):")
            console.print(new.token, soft_wrap=True, markup=False, highlight=False)
            if password is None:
                console.print(
                    f"To sign in to the web UI, give {new.name!r} a password: "
                    f"assay users password {new.name}",
                    markup=False,
                    highlight=False,
                )


def main() -> None:
    import sys

    if sys.argv[1:2] == ["quality"]:
        from assay.cli.quality import keep_pandas_out

        keep_pandas_out()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = ["app", "main"]
