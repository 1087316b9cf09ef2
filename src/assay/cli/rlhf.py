"""``assay generate``, ``assay eval``, ``assay leaderboard`` and ``assay judge``: the RLHF commands.

Models are named on the command line as ``NAME`` or ``NAME@key=value,key=value`` (sampling
parameters; values are read as JSON when they parse, e.g. ``gpt-4o-mini@temperature=0.7``),
all served from ``--base-url`` (default ``$OPENAI_BASE_URL``) with the key in the environment
variable ``--api-key-env`` (default ``OPENAI_API_KEY``); or listed in a YAML/JSON file
(``--models``): ``[{model, label?, base_url?, api_key_env?, params?, price?: [in, out],
max_concurrency?}]`` with prices per million tokens. Answers are cached in
``$ASSAY_HOME/cache/responses.sqlite`` (``--cache PATH``, ``--no-cache``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    require_database,
    settings_for,
    versions_place,
)

if TYPE_CHECKING:
    from assay.connectors import Price, ResponseCache
    from assay.services.generation import ModelSpec

__all__ = ["register"]

eval_app = new_app("eval", "Golden benchmarks: freeze a version, run models on it, read the grades.")
judge_app = new_app("judge", "LLM judges: a model answering a project's questions as a contributor.")

ModelOpt = Annotated[
    list[str] | None,
    typer.Option("--model", "-m", help="A model: NAME or NAME@temperature=0.7,max_tokens=256."),
]
ModelsFileOpt = Annotated[Path | None, typer.Option("--models", help="YAML/JSON file listing models.")]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible base URL (default $OPENAI_BASE_URL).")
]
KeyEnvOpt = Annotated[
    str, typer.Option("--api-key-env", help="Environment variable holding the API key (never stored).")
]
PriceOpt = Annotated[
    list[str] | None,
    typer.Option("--price", help="MODEL=IN,OUT: prices per million prompt/completion tokens."),
]
CacheOpt = Annotated[Path | None, typer.Option("--cache", help="Response cache file.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the response cache.")]
ConcOpt = Annotated[int, typer.Option("--concurrency", help="Calls in flight per model.")]
SystemOpt = Annotated[str | None, typer.Option("--system", help="A system prompt for every call.")]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_model(spec: str) -> tuple[str, dict[str, Any]]:
    from assay.domain.errors import ValidationError

    name, _, rest = spec.partition("@")
    params: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        key, eq, val = part.partition("=")
        if not eq or not key.strip():
            raise ValidationError(f"bad model parameter {part!r} in {spec!r}; use key=value", field="model")
        params[key.strip()] = _value(val.strip())
    if not name.strip():
        raise ValidationError(f"no model name in {spec!r}", field="model")
    return name.strip(), params


def _prices(items: list[str] | None) -> dict[str, Price]:
    from assay.connectors import Price
    from assay.domain.errors import ValidationError

    out: dict[str, Price] = {}
    for item in items or []:
        name, eq, vals = item.partition("=")
        parts = vals.split(",")
        try:
            if not eq or len(parts) != 2:
                raise ValueError
            out[name.strip()] = Price(float(parts[0]), float(parts[1]))
        except ValueError:
            raise ValidationError(f"bad price {item!r}; use MODEL=IN,OUT", field="price") from None
    return out


def _specs(
    models: list[str] | None,
    models_file: Path | None,
    base_url: str | None,
    api_key_env: str,
    prices: list[str] | None,
    cache: ResponseCache | None,
    concurrency: int,
) -> list[ModelSpec]:
    import yaml

    from assay.connectors import OpenAICompatible, Price
    from assay.domain.errors import ValidationError
    from assay.services.generation import ModelSpec

    entries: list[dict[str, Any]] = []
    parsed = [(_parse_model(m), m) for m in models or []]
    names = [n for (n, _), _ in parsed]
    for (name, params), raw in parsed:
        label = raw if names.count(name) > 1 else None
        entries.append({"model": name, "params": params, "label": label})
    if models_file is not None:
        doc = yaml.safe_load(models_file.read_text())
        if not isinstance(doc, list):
            raise ValidationError("a models file is a list of {model, params?, ...}", file=str(models_file))
        entries.extend(doc)
    if not entries:
        raise ValidationError("name at least one model (--model or --models)", field="model")
    price_map = _prices(prices)
    out = []
    for e in entries:
        price = e.get("price")
        connector = OpenAICompatible(
            str(e["model"]),
            base_url=e.get("base_url") or base_url,
            api_key_env=e.get("api_key_env", api_key_env),
            params=dict(e.get("params") or {}),
            max_concurrency=int(e.get("max_concurrency") or concurrency),
            cache=cache,
            price=Price(float(price[0]), float(price[1])) if price else price_map.get(str(e["model"])),
        )
        out.append(ModelSpec(connector, label=e.get("label")))
    return out


def _cache(home: Path | None, db: str | None, path: Path | None, off: bool) -> ResponseCache | None:
    from assay.connectors import ResponseCache

    if off:
        return None
    require_database(home, db)  # no cache folder in a data directory nobody initialised
    return ResponseCache(path or settings_for(home, db).home / "cache" / "responses.sqlite")


def _fail_when_nothing_came_back(
    done: int, reasons: dict[str, str], headline: str = "every model call failed"
) -> None:
    """A run whose model calls all failed says why on stderr and exits 1 (its report, if asked
    for with ``--json``, is already on stdout)."""
    if done or not reasons:
        return
    err_console.print(f"error: {headline}", markup=False, highlight=False)
    for who, reason in reasons.items():
        err_console.print(f"  {who}: {reason}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _first_reasons(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The first failure reason per model (or record), in order."""
    out: dict[str, str] = {}
    for who, reason in pairs:
        out.setdefault(who, reason)
    return out


def _close(specs: list[ModelSpec]) -> None:
    for s in specs:
        close = getattr(s.connector, "close", None)
        if close is not None:
            close()


def generate(
    prompts: Annotated[Path | None, typer.Argument(help="Prompt set: JSONL/JSON/CSV/Parquet.")] = None,
    project: Annotated[
        str, typer.Option("--project", "-p", help="Comparison project (made when missing).")
    ] = "",
    from_project: Annotated[
        str | None, typer.Option("--from-project", help="Take the prompts from this project's field.")
    ] = None,
    field: Annotated[str, typer.Option("--field", help="The prompt field of --from-project.")] = "prompt",
    model: ModelOpt = None,
    models: ModelsFileOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: KeyEnvOpt = "OPENAI_API_KEY",
    price: PriceOpt = None,
    pairwise: Annotated[bool, typer.Option("--pairwise", help="One record per pair of models.")] = False,
    overlap: Annotated[int, typer.Option("--overlap", help="Answers per record (new project).")] = 3,
    system: SystemOpt = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    concurrency: ConcOpt = 4,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate candidates from N models for a prompt set, as records of a comparison project."""
    from assay.domain.errors import ValidationError
    from assay.services import generation

    if not project:
        raise ValidationError("name the comparison project with --project", field="project")
    if (prompts is None) == (from_project is None):
        raise ValidationError("give a prompt file or --from-project (one of them)", field="prompts")
    rc = _cache(home, db, cache, no_cache)
    specs = _specs(model, models, base_url, api_key_env, price, rc, concurrency)
    try:
        with open_cli_store(home, db) as (store, actor):
            items = (
                generation.load_prompts(prompts)
                if prompts is not None
                else generation.prompts_from_project(store, actor, str(from_project), field=field)
            )
            generation.ensure_project(
                store, actor, project, generation.comparison_schema(project, overlap=overlap)
            )
            report = generation.run_generation(
                store, actor, project, items, specs, system=system, pairwise=pairwise
            )
    finally:
        _close(specs)
        if rc is not None:
            rc.close()
    reasons = _first_reasons([(m, e) for f in report.failed for m, e in f.get("errors", {}).items()])
    answers = sum(int(m["answers"]) for m in report.by_model.values())
    headline = "no prompt got two answers" if answers else "every model call failed"
    if as_json:
        print_json(report.to_dict())
        _fail_when_nothing_came_back(report.records, reasons, headline)
        return
    _fail_when_nothing_came_back(report.records, reasons, headline)
    console.print(
        f"Generated {report.candidates} candidates into {report.records} records of {report.project} "
        f"({report.cached} from the cache); cost {report.cost:.6f}; "
        f"tokens {report.prompt_tokens} in, {report.completion_tokens} out."
    )
    for f in report.failed:
        why = "; ".join(f"{m}: {e}" for m, e in f.get("errors", {}).items())
        console.print(
            f"  skipped prompt {f['id']}: {f['reason']}" + (f" ({why})" if why else ""), markup=False
        )


def _fmt(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0f}"


def leaderboard(
    project: Annotated[str, typer.Argument(help="Comparison project name or id.")],
    category: Annotated[
        str | None, typer.Option("--category", help="A metadata key: one board per value.")
    ] = None,
    question: Annotated[
        str | None, typer.Option("--question", help="The preference/ranking question.")
    ] = None,
    source: Annotated[str, typer.Option("--source", help="auto, consensus or responses.")] = "auto",
    by: Annotated[str, typer.Option("--by", help="Group candidates by 'model' or 'id'.")] = "model",
    boot: Annotated[int, typer.Option("--boot", help="Bootstrap resamples for the 95% intervals.")] = 1000,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bradley-Terry ratings with bootstrap 95% intervals, best first."""
    from assay.services import leaderboard as lb

    with open_cli_store(home, db) as (store, actor):
        board = lb.leaderboard(
            store, actor, project, question=question, category=category, source=source, by=by, n_boot=boot
        )
    keys = ("rank", "model", "rating", "ci_low", "ci_high", "wins", "losses", "ties", "games")
    if category is not None:
        rows = [
            {"category": cat, **{k: r[k] for k in keys}}
            for cat, cat_rows in board["categories"].items()
            for r in cat_rows
        ]
    else:
        rows = [{k: r[k] for k in keys} for r in board["rows"]]
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table(title=f"{board['project']} — {board['comparisons']} comparisons ({board['question']})")
    cols = (["category"] if category is not None else []) + [
        "rank",
        "model",
        "rating",
        "95% CI",
        "W",
        "L",
        "T",
    ]
    for c in cols:
        table.add_column(c)
    for r in rows:
        cells = [str(r["category"])] if category is not None else []
        cells += [
            str(r["rank"]),
            str(r["model"]),
            _fmt(r["rating"]),
            f"{_fmt(r['ci_low'])} – {_fmt(r['ci_high'])}",
            str(r["wins"]),
            str(r["losses"]),
            str(r["ties"]),
        ]
        table.add_row(*cells)
    console.print(table)
    pb = board.get("position_bias") or {}
    if pb.get("n"):
        console.print(
            f"Position bias: {pb['left_rate']:.1%} of {pb['n']} choices went to the first-shown candidate "
            f"(chance {pb['chance']:.0%}, p = {pb['p_value']:.3g})."
        )
    for a in board.get("judge_agreement") or []:
        console.print(
            f"Judge {a['judge']}: agrees with the human majority on {a['agreement']:.1%} of {a['n']} "
            f"(kappa {a['kappa']:.2f})."
        )


@eval_app.command("freeze")
def eval_freeze(
    benchmark: Annotated[str, typer.Argument(help="Benchmark project (prompt + reference fields).")],
    name: Annotated[str | None, typer.Option("--name", help="Version name (default v1, v2 …).")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Freeze the benchmark's records as an immutable dataset version."""
    from assay.services import evaluation

    with open_cli_store(home, db) as (store, actor):
        v = evaluation.freeze_version(store, actor, benchmark, home=versions_place(home, db), name=name)
    if as_json:
        print_json(v)
    else:
        console.print(
            f"Froze {v['record_count']} records of {benchmark} as {v['name']} ({v['content_hash']})."
        )


@eval_app.command("run")
def eval_run(
    benchmark: Annotated[str, typer.Argument(help="Benchmark project (prompt + reference fields).")],
    version: Annotated[
        str | None, typer.Option("--version", help="A frozen version (default: freeze now).")
    ] = None,
    grading_project: Annotated[
        str | None, typer.Option("--grading-project", help="Default <benchmark>-grading.")
    ] = None,
    rubric: Annotated[
        Path | None, typer.Option("--rubric", help="YAML/JSON list of rubric questions.")
    ] = None,
    overlap: Annotated[int, typer.Option("--overlap", help="Graders per answer.")] = 1,
    model: ModelOpt = None,
    models: ModelsFileOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: KeyEnvOpt = "OPENAI_API_KEY",
    price: PriceOpt = None,
    system: SystemOpt = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    concurrency: ConcOpt = 4,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate the models' answers on a frozen benchmark and send them to a grading project."""
    import yaml

    from assay.services import evaluation

    rubric_doc = yaml.safe_load(rubric.read_text()) if rubric is not None else None
    rc = _cache(home, db, cache, no_cache)
    specs = _specs(model, models, base_url, api_key_env, price, rc, concurrency)
    try:
        with open_cli_store(home, db) as (store, actor):
            out = evaluation.run_eval(
                store,
                actor,
                benchmark,
                specs,
                home=versions_place(home, db),
                version=version,
                grading_project=grading_project,
                rubric=rubric_doc,
                overlap=overlap,
                system=system,
            )
    finally:
        _close(specs)
        if rc is not None:
            rc.close()
    reasons = _first_reasons([(f["model"], f["reason"]) for f in out["failed"]])
    if as_json:
        print_json(out)
        _fail_when_nothing_came_back(out["records"], reasons)
        return
    _fail_when_nothing_came_back(out["records"], reasons)
    console.print(
        f"Benchmark {out['benchmark']} {out['version']['name']}: {out['records']} answers sent to "
        f"{out['grading_project']} for grading; cost {out['cost']:.6f}."
    )
    for f in out["failed"]:
        console.print(f"  failed: {f['model']} on {f['item']}: {f['reason']}", markup=False)


@eval_app.command("results")
def eval_results(
    grading_project: Annotated[str, typer.Argument(help="The grading project.")],
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Grades per model (mean and 95% interval per rubric question) and per item."""
    from assay.services import evaluation

    with open_cli_store(home, db) as (store, actor):
        res = evaluation.eval_results(store, actor, grading_project)
    if as_json:
        print_json(res)
        return
    for m in res["models"]:
        parts = [
            f"{q} {m[q]['mean']:.2f} [{m[q]['ci_low']:.2f}, {m[q]['ci_high']:.2f}]"
            for q in res["questions"]
            if q in m
        ]
        console.print(f"{m['model']}: {m['graded']}/{m['items']} graded; " + "; ".join(parts), markup=False)


@judge_app.command("run")
def judge_run(
    project: Annotated[str, typer.Argument(help="The project to answer.")],
    user: Annotated[str, typer.Option("--user", help="The judge's contributor name (kind model).")],
    model: Annotated[str, typer.Option("--model", "-m", help="NAME or NAME@temperature=0,...")],
    template: Annotated[
        Path | None, typer.Option("--template", help="Prompt template file ({{field}}).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many records.")] = None,
    create: Annotated[bool, typer.Option("--create", help="Make the judge user when missing.")] = False,
    base_url: BaseUrlOpt = None,
    api_key_env: KeyEnvOpt = "OPENAI_API_KEY",
    price: PriceOpt = None,
    system: SystemOpt = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    home: HomeOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Let a model answer a project through dispatch, like any contributor (an LLM judge)."""
    from assay.services import evaluation
    from assay.services.judge import run_judge

    text = template.read_text() if template is not None else None  # None: the project's default
    rc = _cache(home, db, cache, no_cache)
    (spec,) = _specs([model], None, base_url, api_key_env, price, rc, 1)
    try:
        with open_cli_store(home, db) as (store, actor):
            judge = evaluation.model_contributor(
                store, actor, user, create=create, config={"model": spec.connector.model}
            )
            report = run_judge(store, judge, project, spec.connector, text, limit, system=system)
    finally:
        _close([spec])
        if rc is not None:
            rc.close()
    reasons = _first_reasons([(f"record {s['record_id']}", s["reason"]) for s in report.skipped[:5]])
    if as_json:
        print_json(report.to_dict())
        _fail_when_nothing_came_back(report.answered, reasons, "the judge answered no record")
        return
    _fail_when_nothing_came_back(report.answered, reasons, "the judge answered no record")
    console.print(
        f"{user} answered {report.answered} records of {project} ({len(report.skipped)} skipped, "
        f"{report.cached} from the cache); cost {report.cost:.6f}."
    )
    for s in report.skipped[:20]:
        console.print(f"  skipped record {s['record_id']}: {s['reason']}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
    app.command("leaderboard")(leaderboard)
    app.add_typer(eval_app, name="eval")
    app.add_typer(judge_app, name="judge")
