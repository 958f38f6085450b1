"""``docs/stages.md``, generated from the stage manifest: the stages, their order, and every
model with what it reads, its grain, its parameters and when it is skipped."""

from __future__ import annotations

from dip_sim.pipeline.graph import STAGES, graph

_STAGE_TITLES = {
    "ingest": "载入 ingest", "quality": "病案质控 quality", "catalog": "病种目录与入组 catalog",
    "budget": "总额预算 budget", "score": "病例分值 score", "settle": "结算 settle",
    "metrics": "分组质量指标 metrics", "project": "点值预测 project",
    "monitor": "运行监测 monitor",
    "supervise": "监管与考核 supervise",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def stages_markdown() -> str:
    """The page's text."""
    g = graph()
    maker = g.maker()
    lines = [
        "# The stage graph",
        "",
        "Generated from `dip_sim/pipeline/manifest.yaml` by `make docs`; do not edit. "
        "`dip-sim stages` prints the same graph, `dip-sim stages --dot` draws it with Graphviz.",
        "",
        "A model is one SQL file making one table with one SELECT (or a Python function making "
        "the tables it lists). The run order is derived from what each model reads; a "
        "skipped model leaves its table empty with the same columns. Models whose rows are "
        "stored name their table under *stores*; the columns are documented in "
        "[tables.md](tables.md), the parameters in [parameters.md](parameters.md). A stored "
        "model that passes more columns to later models than it stores lists them (*carries*): "
        "a scenario that reruns only later models makes it again, where a model that stores "
        "all it passes on is read from the base scenario's stored rows "
        "([rules.md](rules.md#what-a-scenario-run-recomputes)). A model marked *in place* "
        "(one row per case) is written by a run that stores its results straight into its "
        "stored table, and the later models read it there: one write of every case's row "
        "instead of a temp table and a copy of it.",
        "",
        "**Adding a model**: write `dip_sim/<stage>/<model>.sql`, one SELECT named like the "
        "table it makes; declare it in `manifest.yaml` (stage, label, grain, reads, params, "
        "`skip_when` if it can be left out); if its rows are stored, name the table under "
        "`stores` and write its contract `<table>.yaml` beside it (columns, labels, data tests). "
        "**Adding a parameter**: an entry in `data/policy/<file>.yaml` (description, unit, type, "
        "reference, dated values), read in SQL as `p.<file>.<key>` (after `CROSS JOIN run_params "
        "p`) or `getvariable('<file>.<key>')` where a constant is needed, and listed under the "
        "model's `params`; a rule between parameters goes in `dip_sim/policy/rules.py`. "
        "`make test` fails when a file reads a table or parameter its entry does not declare, "
        "when a parameter is read by no model, or when a generated page is out of date "
        "(`make docs`).",
        "",
        "Stages and what they read from each other:",
        "",
        "```mermaid",
        "flowchart LR",
    ]
    edges = set()
    for m in g.models:
        for read in m.reads:
            if read in maker and maker[read].stage != m.stage:
                edges.add((maker[read].stage, m.stage))
    for stage in STAGES:
        lines.append(f"    {stage}[\"{_STAGE_TITLES[stage]}\"]")
    for a, b in sorted(edges, key=lambda e: (STAGES.index(e[0]), STAGES.index(e[1]))):
        lines.append(f"    {a} --> {b}")
    lines += ["```", ""]
    for stage in STAGES:
        models = [m for m in g.models if m.stage == stage]
        if not models:
            continue
        lines += [f"## {_STAGE_TITLES[stage]}", "",
                  "| # | model | 说明 | grain | made by | reads | parameters | skipped when | stores |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for m in models:
            position = g.models.index(m) + 1
            made = f"`{m.sql}`" if m.sql else f"`{m.python}`"
            if m.runs_in:
                made += f" ({m.runs_in})"
            if m.materialized == "view":
                made += " (view)"
            reads = ", ".join(m.reads)
            params = ", ".join(f"`{p}`" for p in m.params)
            skip = f"`{_cell(m.skip_when)}`" if m.skip_when else ""
            stores = m.stores or ""
            if m.carries:
                stores += f" (carries {', '.join(m.carries)})"
            if m.in_place:
                stores += " (in place)"
            lines.append(f"| {position} | `{m.name}` | {_cell(m.label)} | {_cell(m.grain)} | "
                         f"{made} | {reads} | {params} | {skip} | {stores} |")
        lines.append("")
    return "\n".join(lines)
