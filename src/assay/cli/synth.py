"""``assay synth``: a synthesis run (several teachers, filters, a per-teacher cap) as a job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from assay.cli.common import DbOpt, HomeOpt, JsonOpt, open_cli_store

__all__ = ["register"]


def _teacher(text: str, endpoint: str | None, prices: dict[str, list[float]]) -> dict[str, Any]:
    from assay.cli.rlhf import _parse_model

    name, params = _parse_model(text)
    spec: dict[str, Any] = {"type": "openai", "model": name, "params": params}
    if endpoint:
        spec["base_url"] = endpoint
    if name in prices:
        spec["price"] = prices[name]
    if params:
        spec["label"] = text
    return spec


def synth(
    project: Annotated[str, typer.Argument(help="The synthesis project (made when missing).")],
    prompts: Annotated[Path | None, typer.Argument(help="Seed prompts: JSONL/JSON/CSV/Parquet.")] = None,
    teacher: Annotated[
        list[str] | None,
        typer.Option(
            "--teacher", "-t", help="A teacher: MODEL or MODEL@temperature=0.7 (repeat: two or more)."
        ),
    ] = None,
    teachers: Annotated[
        Path | None,
        typer.Option(help="A JSON/YAML file listing teachers as connectors ({type, model, ...})."),
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL of the --teacher models.")
    ] = None,
    price: Annotated[
        list[str] | None, typer.Option(help="MODEL=IN,OUT: prices per million prompt/completion tokens.")
    ] = None,
    template: Annotated[
        Path | None, typer.Option(help="A prompt template file ({{name}} placeholders).")
    ] = None,
    variables: Annotated[
        Path | None, typer.Option(help="The template's variables: JSONL/CSV, one prompt a row.")
    ] = None,
    from_project: Annotated[
        str | None, typer.Option(help="Take the prompts from this project's field.")
    ] = None,
    field: Annotated[str, typer.Option(help="The prompt field of --from-project.")] = "prompt",
    pairs: Annotated[bool, typer.Option(help="Preference pairs: two teachers answer each prompt.")] = False,
    mode: Annotated[
        str | None,
        typer.Option(help="What the teachers write: answers, pairs, instructions, rewrites or critiques."),
    ] = None,
    task_template: Annotated[
        Path | None,
        typer.Option(
            help="The task around each input for instructions/rewrites/critiques "
            "({{input}}, and {{answer}} for critiques)."
        ),
    ] = None,
    answer_field: Annotated[
        str, typer.Option(help="The answer field a critique reads, with --from-project.")
    ] = "response",
    language: Annotated[
        list[str] | None, typer.Option(help="Keep only answers in this language (ISO 639-1; repeatable).")
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            help="Rule-based checks: a JSON/YAML list of {pattern, field?, action: reject|flag, name?}."
        ),
    ] = None,
    judge: Annotated[
        str | None,
        typer.Option(help="A judge model (at --endpoint) whose 1-10 score is suggested as the verdict."),
    ] = None,
    judge_threshold: Annotated[int, typer.Option(help="Judge scores from this suggest accept.")] = 7,
    embedder: Annotated[
        str, typer.Option(help="Embeddings of the diversity report: auto, minilm, hashing or none.")
    ] = "auto",
    cap_scope: Annotated[
        str, typer.Option(help="The teacher cap holds over the project (every run) or this run only.")
    ] = "project",
    max_share: Annotated[
        float | None, typer.Option(help="No teacher above this share of the accepted answers (default 0.5).")
    ] = None,
    allow_single_teacher: Annotated[
        bool, typer.Option(help="Run with one teacher (recorded in the audit log).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why one teacher is enough (goes into the audit log).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Sampling seed sent to every teacher and recorded.")
    ] = None,
    system: Annotated[str | None, typer.Option(help="A system prompt for every call.")] = None,
    min_chars: Annotated[int, typer.Option(help="Drop answers shorter than this.")] = 1,
    max_chars: Annotated[int, typer.Option(help="Drop answers longer than this.")] = 20_000,
    near_duplicate: Annotated[
        float,
        typer.Option(help="Jaccard similarity (character 5-grams) from which answers are near-duplicates."),
    ] = 0.8,
    dedup_against: Annotated[
        list[str] | None, typer.Option(help="Also drop duplicates of this project's records (repeatable).")
    ] = None,
    eval_set: Annotated[
        list[str] | None,
        typer.Option("--eval", help="An evaluation project no item may share an n-gram with (repeatable)."),
    ] = None,
    ngram: Annotated[int, typer.Option(help="Word n-gram length of the contamination check.")] = 8,
    overlap: Annotated[int, typer.Option(help="People verifying each item (new project).")] = 1,
    verify_sample: Annotated[
        float, typer.Option(help="Share of the items people verify first (a seeded sample; 1: all alike).")
    ] = 1.0,
    detach: Annotated[bool, typer.Option(help="Queue it and return.")] = False,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Several teachers write answers (or preference pairs) for seed prompts; exact, near-duplicate,
    contamination and length filters and a per-teacher cap; the items land as records to verify."""
    import yaml

    from assay.cli.common import parse_prices
    from assay.cli.jobs import start_job
    from assay.domain.errors import ValidationError
    from assay.formats import open_source
    from assay.services import generation, synthesis

    prices = parse_prices(price)
    specs = [_teacher(t, endpoint, prices) for t in teacher or []]
    if teachers is not None:
        doc = yaml.safe_load(teachers.read_text(encoding="utf-8"))
        if not isinstance(doc, list):
            raise ValidationError("a teachers file is a list of connectors", file=str(teachers))
        specs += doc
    if mode is not None and pairs and mode != "pairs":
        raise ValidationError("--pairs and --mode disagree", field="mode")
    mode = mode or ("pairs" if pairs else "answers")
    if mode not in synthesis.MODES:
        raise ValidationError(f"one of {', '.join(synthesis.MODES)}", field="mode")
    params: dict[str, Any] = {"mode": mode, "teachers": specs,
                              "allow_single_teacher": allow_single_teacher, "min_chars": min_chars,
                              "max_chars": max_chars, "near_duplicate": near_duplicate, "ngram": ngram,
                              "dedup_against": dedup_against or [], "eval_sets": eval_set or [],
                              "verify_sample": verify_sample}  # fmt: skip
    params.update({"embedder": embedder, "cap_scope": cap_scope, "judge_threshold": judge_threshold})
    if language:
        params["languages"] = language
    if task_template is not None:
        params["task_template"] = task_template.read_text(encoding="utf-8")
    if rules is not None:
        doc = yaml.safe_load(rules.read_text(encoding="utf-8"))
        params["rules"] = doc.get("rules") if isinstance(doc, dict) else doc
        if not isinstance(params["rules"], list):
            raise ValidationError("a rules file is a list of rules (or {rules: [...]})", file=str(rules))
    if judge is not None:
        params["judge"] = _teacher(judge, endpoint, prices)
    for key, value in (
        ("max_share", max_share),
        ("seed", seed),
        ("system", system),
        ("override_reason", reason),
    ):
        if value is not None:
            params[key] = value
    if sum(x is not None for x in (prompts, template, from_project)) != 1:
        raise ValidationError(
            "give a prompt file, --template with --variables, or --from-project", field="prompts"
        )
    if prompts is not None:
        params["prompts"] = []
        for p in generation.load_prompts(prompts):
            seed_item: dict[str, Any] = {"id": p.id, "prompt": p.text}
            meta = p.metadata or {}
            if meta.get("answer") is not None:  # what a critique reads
                seed_item["answer"] = str(meta["answer"])
            topic = meta.get("topic", meta.get("category"))
            if topic is not None:  # for the topic distribution of the report
                seed_item["topic"] = str(topic)
            params["prompts"].append(seed_item)
    elif template is not None:
        if variables is None:
            raise ValidationError("--template needs --variables", field="variables")
        params["template"] = template.read_text(encoding="utf-8")
        source = open_source(variables)
        try:
            params["variables"] = [row for _, row in source.rows]
        finally:
            source.close()
    else:
        params["from_project"] = from_project
        params["field"] = field
        if mode == "critiques":
            params["answer_field"] = answer_field
    with open_cli_store(home, db) as (store, actor):
        generation.ensure_project(
            store, actor, project, synthesis.synth_schema(project, pairs=mode == "pairs", overlap=overlap)
        )
    start_job("synth", project, params, home=home, db=db, detach=detach, as_json=as_json)


def synth_report(
    project: Annotated[str, typer.Argument(help="The synthesis project.")],
    version: Annotated[
        str | None,
        typer.Option(help="A frozen version of the project (assay eval freeze): its records only."),
    ] = None,
    embedder: Annotated[
        str, typer.Option(help="Embeddings for the spread and clusters: auto, minilm, hashing or none.")
    ] = "auto",
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The diversity report of a synthesis project: records by origin, teacher shares, distinct-n,
    near-duplicate rate, and each run's counts removed per filter."""
    from assay.cli.common import console, print_json
    from assay.services import synthesis

    with open_cli_store(home, db) as (store, actor):
        report = synthesis.project_report(store, actor, project, version=version, embedder=embedder)
    if as_json:
        print_json(report)
        return

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    say(f"{report['project']}: {report['records']} records "
        + ", ".join(f"{k} {v}" for k, v in sorted(report["origins"].items())))  # fmt: skip
    say("teacher shares: " + ", ".join(f"{t} {100 * s:.1f} %" for t, s in report["teacher_shares"].items()))
    if report.get("version"):
        say(f"version {report['version']['name']} ({report['version']['content_hash']})")
    say(f"answers {report['answers']}: distinct-1 {report['distinct_1']}, distinct-2 {report['distinct_2']}, "
        f"distinct-3 {report['distinct_3']}, near-duplicate rate {report['near_duplicate_rate']}")  # fmt: skip
    emb = report.get("embedding")
    if emb:
        say(f"embeddings ({emb['model']}, {emb['sampled']} answers): spread {emb['spread']}, "
            f"{emb['clusters']} clusters, balance {emb['cluster_balance']}")  # fmt: skip
    if report.get("topics"):
        say("topics: " + ", ".join(f"{t} {n}" for t, n in report["topics"].items()))
    for run in report["runs"]:
        removed = ", ".join(f"{k} {v}" for k, v in (run.get("removed") or {}).items() if v)
        say(f"run {run['job']} ({run['state']}): generated {run.get('generated')}, accepted {run.get('accepted')}"
            + (f"; removed {removed}" if removed else ""))  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
    app.command("synth-report")(synth_report)
