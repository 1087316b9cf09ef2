"""``assay audit``: check the audit log's hash chain and export its head (an anchor)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from assay.cli.common import (
    DbOpt,
    HomeOpt,
    JsonOpt,
    console,
    err_console,
    new_app,
    open_cli_store,
    print_json,
    progress_bar,
)

app = new_app("audit", "Check the audit log's hash chain and export its head (anchors).")


@app.command("verify")
def verify(
    limit: Annotated[int | None, typer.Option(help="Check the first N events only.")] = None,
    anchor: Annotated[
        Path | None, typer.Option(help="An anchor file `assay audit anchor --out` wrote: check it too.")
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the chain over every event; exit 1 naming the first event where it breaks."""
    from assay.services import audit

    anchored = json.loads(anchor.read_text()) if anchor is not None else None
    with open_cli_store(home, db) as (store, actor), progress_bar("verifying events") as update:
        result = audit.verify(store, actor, limit=limit, anchor=anchored, progress=update)
    if as_json:
        print_json(result)
    elif result["ok"]:
        head = result["head"]
        console.print(f"audit log intact: {result['events']} events, head seq {head['seq']} {head['hash']}")
    broken = result["broken"]
    if broken is not None:
        if not as_json:
            event = f"event {broken['event_id']}" if broken["event_id"] is not None else "no event"
            err_console.print(
                f"audit log broken at seq {broken['seq']} ({event}): {broken['reason']}; "
                f"{result['events']} events before it are intact",
                markup=False,
            )
        raise typer.Exit(1)


@app.command("anchor")
def anchor(
    out: Annotated[Path | None, typer.Option(help="Write the anchor (JSON) to this file.")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the chain's head (last seq and hash): keep it outside the database."""
    from assay.services import audit

    with open_cli_store(home, db) as (store, actor):
        head = audit.anchor(store, actor)
    if out is not None:
        out.write_text(json.dumps(head, indent=2) + "\n")
    if as_json:
        print_json(head)
    else:
        console.print(f"seq {head['seq']} {head['hash']}", markup=False, highlight=False)
