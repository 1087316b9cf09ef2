"""``assay ai-first`` and ``assay savings``: models do the easy part, people the rest, savings measured."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from assay.cli.common import DbOpt, HomeOpt, JsonOpt, console, new_app, open_cli_store, print_json

# Start-up: each command imports the services it runs in its body (tests/cli/test_startup.py).

app = new_app("ai-first", "AI-first routing: trust in models measured, records settled by trusted models.")


@app.command("trust")
def trust(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Each model's measured precision per question and answer, its lower bound, and whether it is trusted."""
    from assay.services import ai_first

    with open_cli_store(home, db) as (store, actor):
        table = ai_first.trust(store, actor, project)
    if as_json:
        print_json(table)
        return
    console.print(f"bar {table['bar']:.3f} ({table['bar_source']})", markup=False)
    for r in table["models"]:
        mark = "trusted" if r["trusted"] else "not trusted"
        console.print(
            f"{r['model']:<20} {r['question']}={r['answer']:<12} right {r['right']}/{r['checked']}"
            f"  lower bound {r['lower_bound']:.3f}  {mark}",
            markup=False,
            highlight=False,
        )


@app.command("route")
def route(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    detach: Annotated[bool, typer.Option(help="Queue it and return.")] = False,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Estimate trust, settle the records trusted models agree on, send the rest (and the audit share)
    to people, most uncertain first. Run it again as people answer: trust is estimated anew."""
    from assay.cli.jobs import start_job

    start_job("route", project, {}, home=home, db=db, detach=detach, as_json=as_json)


def savings(
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What AI-first routing saved against sending every record to people at the project's overlap."""
    from assay.services import ai_first

    with open_cli_store(home, db) as (store, actor):
        r: dict[str, Any] = ai_first.savings(store, actor, project)
    if as_json:
        print_json(r)
        return
    acc = r["accuracy_on_gold"]

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{100 * x:.1f} %"

    lines = [
        f"records                {r['records']}: by models {r['settled_by_models']}, by people "
        f"{r['settled_by_people']}, by both (audit) {r['settled_by_both']}, open {r['open']}",
        f"human answers          {r['human_answers']} spent + {r['human_answers_to_come']} to come, of "
        f"{r['human_answers_all_human']} if all went to people at overlap {r['overlap']} "
        f"(saved {r['human_answers_saved']}, {pct(r['saved_share'])})",
        f"accuracy on gold       models {pct(acc['models'])} ({acc['models_gold_records']} records), "
        f"people {pct(acc['people'])} ({acc['people_gold_records']} records)",
        f"cost                   models {r['model_cost']:.4f}, people {r['human_cost']}, all people "
        f"{r['human_cost_all_human']}",
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False)


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="ai-first")
    main.command("savings")(savings)
