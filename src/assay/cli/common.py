"""What every CLI command shares: database options, output as text or JSON, errors, progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from assay.settings import Settings

if TYPE_CHECKING:
    from assay.services.actors import Actor
    from assay.store.engine import Store

# Start-up is a feature: `assay --help` imports Typer and Rich and this package's command
# modules only. Each command imports the services, the store and the libraries it runs (SciPy,
# SQLAlchemy, FastAPI …) inside its body; tests/cli/test_startup.py checks it.

__all__ = [
    "AssayGroup",
    "new_app",
    "DbOpt",
    "HomeOpt",
    "JsonOpt",
    "console",
    "err_console",
    "open_cli_store",
    "print_json",
    "progress_bar",
    "require_database",
    "sqlite_file",
]

# The user the CLI acts as (``assay --as NAME``, ASSAY_AS), set by the main callback per invocation.
ACTING_AS: list[str | None] = [None]

console = Console()
err_console = Console(stderr=True)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="ASSAY_DATABASE_URL", help="Database URL (default: SQLite in the data directory)."
    ),
]
HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", envvar="ASSAY_HOME", help="Data directory (default ./assay-data)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def settings_for(home: Path | None, db: str | None) -> Settings:
    return Settings().with_overrides(home=home, db=db)


def versions_place(home: Path | None, db: str | None) -> Any:
    """Where dataset versions' files are (:class:`assay.services.datasets.Place`): the data
    directory, or the object store ``ASSAY_DATASETS_URL`` names."""
    from assay.services.datasets import Place

    s = settings_for(home, db)
    return Place(s.home, s.datasets_url, s.s3_endpoint_url)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and for SQLite in memory)."""
    if not url.startswith("sqlite"):
        return None
    _, sep, rest = url.partition(":///")
    path = rest.split("?", 1)[0]
    if not sep or path in ("", ":memory:"):
        return None
    return Path(path)


def require_database(home: Path | None, db: str | None) -> None:
    """Refuse to work on a SQLite database nobody made: a command run in the wrong folder, or
    without ``ASSAY_HOME``, would otherwise make an empty one and then report that nothing exists."""
    from assay.domain.errors import NotFound

    path = sqlite_file(settings_for(home, db).db_url)
    if path is not None and not path.exists():
        raise NotFound(
            f"no assay database at {path}: run `assay init` first, or point --home (ASSAY_HOME) "
            "or --db (ASSAY_DATABASE_URL) at the instance you initialised"
        )


@contextmanager
def open_cli_store(
    home: Path | None, db: str | None, *, create: bool = False
) -> Iterator[tuple[Store, Actor]]:
    """The database the options name, migrated, and the local actor: an admin named in the
    audit log (``--as``, else the OS user, else the first admin: ``accounts.local_actor``).

    A SQLite database that does not exist yet is an error unless ``create`` (``assay init``,
    ``assay demo``)."""
    from assay.services.accounts import local_actor
    from assay.store.engine import open_store

    settings = settings_for(home, db)
    if not create:
        require_database(home, db)
    store = open_store(settings.db_url)
    try:
        actor = local_actor(store, ACTING_AS[0])
        yield store, actor
    finally:
        store.dispose()


def parse_prices(items: list[str] | None) -> dict[str, list[float]]:
    """``--price MODEL=IN,OUT`` options as {model: [in, out]} (per million tokens)."""
    from assay.domain.errors import ValidationError

    prices: dict[str, list[float]] = {}
    for item in items or []:
        name, _, vals = item.partition("=")
        try:
            prices[name.strip()] = [float(x) for x in vals.split(",")]
        except ValueError:
            raise ValidationError(f"bad price {item!r}; use MODEL=IN,OUT", field="price") from None
    return prices


def _default(o: Any) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_default, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int | None], None]]:
    """A Rich progress bar on a terminal (silent otherwise); yields ``update(done, total)``."""
    if not err_console.is_terminal:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        yield update


class AssayGroup(TyperGroup):
    """Turns assay's errors into one clear message naming the place (exit 1), not a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as e:
            # An AssayError exists only once its module is loaded; looking it up here keeps
            # the module (and the domain package) out of `--help`.
            errors = sys.modules.get("assay.domain.errors")
            if errors is None or not isinstance(e, errors.AssayError):
                raise
            err_console.print(f"error ({e.code}): {e}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None


def new_app(name: str, help: str) -> typer.Typer:
    return typer.Typer(name=name, help=help, cls=AssayGroup, no_args_is_help=True, add_completion=False)
