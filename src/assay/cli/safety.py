"""``assay safety``: red-teaming campaigns — taxonomy, attacks, target runs, the report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.common import DbOpt, HomeOpt, JsonOpt, new_app, open_cli_store

__all__ = ["app", "register"]

app = new_app("safety", "Red-teaming campaigns: taxonomy, attacks, target runs, the safety report.")


def _say(text: str) -> None:
    from assay.cli.common import console

    console.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command("init")
def init(
    name: Annotated[str, typer.Argument(help="The campaign's attack project (made now).")],
    taxonomy: Annotated[
        Path | None,
        typer.Option(help="A taxonomy YAML/JSON file (default: assay's, after MLCommons AILuminate v1.0)."),
    ] = None,
    grading: Annotated[str | None, typer.Option(help="The grading project (default NAME-grading).")] = None,
    overlap: Annotated[int, typer.Option(help="Graders per answer (people and judges).")] = 2,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a campaign: its attack project and its grading project, with the taxonomy."""
    from assay.cli.common import print_json
    from assay.services import safety

    tax = None
    if taxonomy is not None:
        tax = safety.load_taxonomy(taxonomy.read_text(encoding="utf-8"), file=str(taxonomy))
    with open_cli_store(home, db) as (store, actor):
        made = safety.create_campaign(store, actor, name, taxonomy=tax, grading=grading, overlap=overlap)
    if as_json:
        print_json(made)
        return
    t = made["taxonomy"]
    _say(f"Campaign {made['attacks']['name']}: attacks in {made['attacks']['name']}, answers graded in "
         f"{made['grading']['name']}; taxonomy {t['name']} ({len(t['categories'])} hazard categories, "
         f"{len(t['tactics'])} tactics, {len(t['severities'])} severities).")  # fmt: skip


@app.command("taxonomy")
def taxonomy(
    project: Annotated[
        str | None, typer.Argument(help="A campaign project (default: assay's taxonomy).")
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a taxonomy: hazard categories with definitions, tactics, severity levels."""
    from assay.cli.common import print_json
    from assay.services import safety

    if project is None:
        tax = safety.default_taxonomy()
    else:
        with open_cli_store(home, db) as (store, actor):
            tax = safety.campaign_info(store, actor, project)["taxonomy"]
    if as_json:
        print_json(tax)
        return
    _say(f"{tax['name']}: {tax.get('source', '')}")
    _say("hazard categories:")
    for c in tax["categories"]:
        _say(f"  {c['id']:<5} {c['name']}: {c['definition']}")
    _say("tactics:")
    for t in tax["tactics"]:
        _say(
            f"  {t['id']:<20} {t['name']}{' (multi-turn)' if t.get('multi_turn') else ''}: {t['definition']}"
        )
    _say("severities (lowest first): " + ", ".join(s["id"] for s in tax["severities"]))


@app.command("attacks")
def attacks(
    project: Annotated[str, typer.Argument(help="The campaign's attack project.")],
    file: Annotated[Path, typer.Argument(help="Attacks: JSONL/JSON/CSV/Parquet, one a row.")],
    author: Annotated[str | None, typer.Option(help="Who wrote them (default: the acting user).")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add attacks ({id?, prompt | turns, category, tactic, benign?, seed?, note?}), all or nothing;
    near-duplicates of earlier attacks are flagged."""
    from assay.cli.common import print_json
    from assay.formats import open_source
    from assay.services import safety

    source = open_source(file)
    try:
        rows = list(source.rows)
    finally:
        source.close()
    with open_cli_store(home, db) as (store, actor):
        out = safety.add_attacks(store, actor, project, rows, author=author, file=str(file))
    if as_json:
        print_json(out)
        return
    dups = [a for a in out["attacks"] if a["duplicate_of"]]
    _say(f"{out['created']} attacks added to {out['project']} ({out['updated']} updated); "
         f"{len(dups)} near-duplicates of earlier attacks.")  # fmt: skip
    for a in dups[:20]:
        _say(f"  {a['id']} repeats {a['duplicate_of']} ({a['match']})")


def _target(text: str, base_url: str | None, prices: dict[str, list[float]]) -> dict[str, Any]:
    from assay.cli.rlhf import _parse_model

    name, params = _parse_model(text)
    spec: dict[str, Any] = {"type": "openai", "model": name, "params": params, "label": text}
    if base_url:
        spec["base_url"] = base_url
    if name in prices:
        spec["price"] = prices[name]
    return spec


@app.command("run")
def run(
    project: Annotated[str, typer.Argument(help="The campaign's attack project.")],
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="A target: NAME or NAME@temperature=0.7 (repeatable)."),
    ] = None,
    targets: Annotated[
        Path | None,
        typer.Option(
            help="A YAML/JSON file listing targets as connectors ({type, model, label?, family?, version?})."
        ),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="OpenAI-compatible base URL of the --model targets.")
    ] = None,
    price: Annotated[
        list[str] | None, typer.Option(help="MODEL=IN,OUT: prices per million prompt/completion tokens.")
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="Play a frozen version of the attacks (assay eval freeze PROJECT).")
    ] = None,
    grading: Annotated[
        str | None, typer.Option(help="The grading project (default: the campaign's).")
    ] = None,
    system: Annotated[str | None, typer.Option(help="A system prompt for every target.")] = None,
    detach: Annotated[bool, typer.Option(help="Queue it and return.")] = False,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Play every attack against each target model (a job); the answers go to the grading project."""
    import yaml

    from assay.cli.common import parse_prices
    from assay.cli.jobs import start_job
    from assay.domain.errors import ValidationError

    prices = parse_prices(price)
    specs = [_target(m, base_url, prices) for m in model or []]
    if targets is not None:
        doc = yaml.safe_load(targets.read_text(encoding="utf-8"))
        if not isinstance(doc, list):
            raise ValidationError("a targets file is a list of connectors", file=str(targets))
        specs += doc
    if not specs:
        raise ValidationError("name at least one target: --model or --targets", field="model")
    params: dict[str, Any] = {"targets": specs}
    for key, value in (("version", version), ("grading", grading), ("system", system)):
        if value is not None:
            params[key] = value
    start_job("safety_run", project, params, home=home, db=db, detach=detach, as_json=as_json)


@app.command("report")
def report(
    project: Annotated[str, typer.Argument(help="The campaign's attack or grading project.")],
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Attack success rate per model × category (95 % Wilson intervals), the models ranked, the most
    effective tactics, over-refusal, trends across versions, judge–human agreement."""
    from assay.cli.common import print_json
    from assay.services import safety_report

    with open_cli_store(home, db) as (store, actor):
        rep = safety_report.safety_report(store, actor, project)
    if as_json:
        print_json(rep)
        return

    def pct(r: dict[str, Any]) -> str:
        if r["rate"] is None:
            return "  —"
        return f"{100 * r['rate']:5.1f} % [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]"

    _say(
        f"{rep['project']}: {rep['graded']} of {rep['attempts']} answers graded (taxonomy {rep['taxonomy']})"
    )
    _say("models, safest first: attack success (95 % interval) · over-refusal of benign look-alikes")
    for m in rep["models"]:
        _say(f"  {m['rank']}. {m['model']:<24} {pct(m)} of {m['attempts']} · {pct(m['over_refusal'])} "
             f"of {m['over_refusal']['attempts']}")  # fmt: skip
    _say("per model × category:")
    for r in rep["rows"]:
        _say(f"  {r['model']:<24} {r['category']:<6} {r['successes']}/{r['attempts']}  {pct(r)}")
    _say("most effective tactics:")
    for r in rep["tactics"][:5]:
        _say(f"  {r['tactic']:<20} {r['successes']}/{r['attempts']}  {pct(r)}")
    for a in rep["agreement"]:
        _say(f"judge {a['judge']} vs people on {a['question']}: agreement {a['agreement']}, kappa {a['kappa']} "
             f"({a['n']} records)")  # fmt: skip


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="safety")
