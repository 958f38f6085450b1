"""The stage graph: the models of ``manifest.yaml``, checked, in the order their reads imply.

A model makes one table (a SQL model: its file's one SELECT) or, for a Python model, the
tables it lists under ``writes``. A read names a source (made by ingest or quality, or
reference data), a parameter table (``run_params``, ``param_*``) or another model's table;
anything else is refused when the manifest is loaded. The run order is a topological order of
the reads, ties kept in the manifest's order, so it is the same on every run.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dip_sim.policy.expressions import evaluate, names
from dip_sim.yaml_files import read_yaml

MANIFEST = Path(__file__).with_name("manifest.yaml")
PACKAGE_DIR = Path(__file__).resolve().parents[1]
# the stages `dip-sim simulate` runs, in the order the folders follow
SIMULATE_STAGES = ("catalog", "budget", "score", "settle", "metrics", "project", "monitor",
                   "supervise")
STAGES = ("ingest", "quality", *SIMULATE_STAGES)


class ManifestError(ValueError):
    """The manifest is not a valid graph; the message names the model and the field."""


@dataclass(frozen=True)
class Model:
    """One model of the graph."""

    name: str
    stage: str
    label: str
    grain: str
    reads: tuple[str, ...]
    params: tuple[str, ...]
    sql: str | None = None  # path under dip_sim/
    python: str | None = None  # module:function
    writes: dict[str, str | None] = field(default_factory=dict)  # table → columns (or None)
    materialized: str = "table"
    skip_when: str | None = None
    stores: str | None = None
    runs_in: str | None = None
    # the columns a stored model passes to later models beyond its stored table's
    carries: tuple[str, ...] = ()
    # a persisting run writes its rows straight into the stored table, which later models
    # then read (one write of every case's row instead of two)
    in_place: bool = False

    @property
    def outputs(self) -> tuple[str, ...]:
        """The tables the model makes."""
        return tuple(self.writes) if self.python else (self.name,)

    def sql_text(self) -> str:
        """The model's SELECT (a SQL model)."""
        return (PACKAGE_DIR / self.sql).read_text(encoding="utf-8")

    def function(self) -> Callable[..., None]:
        """The Python model's function ``(con, run)``."""
        module, _, name = self.python.partition(":")
        return getattr(importlib.import_module(module), name)

    def skip_params(self) -> set[str]:
        """The parameters its skip condition reads."""
        return {n for n in names(self.skip_when) if not n.startswith("run.")} \
            if self.skip_when else set()

    def skipped(self, facts: dict[str, Any]) -> bool:
        """Whether the run (parameters and ``run.*`` facts) skips this model."""
        return bool(self.skip_when) and bool(evaluate(self.skip_when, facts))


@dataclass(frozen=True)
class Graph:
    """The models in run order, with the sources they read."""

    models: tuple[Model, ...]
    sources: dict[str, str]

    def __getitem__(self, name: str) -> Model:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)

    def maker(self) -> dict[str, Model]:
        """Table → the model that makes it."""
        return {t: m for m in self.models for t in m.outputs}

    def select(self, stages: Iterable[str]) -> tuple[Model, ...]:
        """The models of ``stages``, in run order."""
        wanted = set(stages)
        return tuple(m for m in self.models if m.stage in wanted)

    def stored(self) -> dict[str, Model]:
        """Stored table → the model whose rows it holds."""
        return {m.stores: m for m in self.models if m.stores}

    def dot(self) -> str:
        """The graph in Graphviz's language, one cluster per stage."""
        lines = ["digraph dip_sim {", "  rankdir=LR;", '  node [shape=box, fontname="sans-serif"];']
        for stage in STAGES:
            members = [m for m in self.models if m.stage == stage]
            if not members:
                continue
            lines.append(f'  subgraph "cluster_{stage}" {{ label="{stage}";')
            for m in members:
                style = ", style=bold" if m.stores else ""
                lines.append(f'    "{m.name}" [label="{m.name}\\n{m.label}"{style}];')
            lines.append("  }")
        maker = self.maker()
        for m in self.models:
            for read in m.reads:
                if read in maker and maker[read].name != m.name:
                    lines.append(f'  "{maker[read].name}" -> "{m.name}";')
        lines.append("}")
        return "\n".join(lines) + "\n"


def is_parameter_table(name: str) -> bool:
    """``run_params`` and the list parameters' ``param_*`` tables (dip_sim.pipeline.params)."""
    return name == "run_params" or name.startswith("param_")


def _model(name: str, spec: dict[str, Any]) -> Model:
    def need(key: str) -> Any:
        if key not in spec:
            raise ManifestError(f"manifest.yaml: 模型 {name} 缺少字段 {key}")
        return spec[key]

    known = {"stage", "label", "grain", "reads", "params", "sql", "python", "writes",
             "materialized", "skip_when", "stores", "runs_in", "carries", "in_place"}
    unknown = set(spec) - known
    if unknown:
        raise ManifestError(f"manifest.yaml: 模型 {name} 含未知字段 {sorted(unknown)}")
    stage = need("stage")
    if stage not in STAGES:
        raise ManifestError(f"manifest.yaml: 模型 {name} 的 stage {stage!r} 应为 {list(STAGES)} 之一")
    if ("sql" in spec) == ("python" in spec):
        raise ManifestError(f"manifest.yaml: 模型 {name} 应有 sql 或 python 之一")
    writes = spec.get("writes") or {}
    if isinstance(writes, list):
        writes = dict.fromkeys(writes)
    if "sql" in spec:
        if writes:
            raise ManifestError(f"manifest.yaml: SQL 模型 {name} 只生成同名的表，不能有 writes")
        if Path(spec["sql"]).stem != name or not (PACKAGE_DIR / spec["sql"]).is_file():
            raise ManifestError(f"manifest.yaml: 模型 {name} 的文件 {spec['sql']} 不存在或不同名")
        if Path(spec["sql"]).parts[0] != stage:
            raise ManifestError(f"manifest.yaml: 模型 {name} 的文件应在 {stage}/ 下")
    if spec.get("materialized", "table") not in ("table", "view"):
        raise ManifestError(f"manifest.yaml: 模型 {name} 的 materialized 应为 table 或 view")
    if spec.get("skip_when"):
        names(spec["skip_when"])  # refused here when it is no valid condition
    if spec.get("carries") and not spec.get("stores"):
        raise ManifestError(f"manifest.yaml: 模型 {name} 不存储结果，不能有 carries")
    if spec.get("in_place") and (not spec.get("stores") or "sql" not in spec
                                 or spec.get("carries") or spec.get("materialized") == "view"):
        raise ManifestError(f"manifest.yaml: 模型 {name} 的 in_place 只用于存储结果、"
                            "不带 carries 的 SQL 表模型")
    return Model(name=name, stage=stage, label=need("label"), grain=need("grain"),
                 reads=tuple(need("reads")), params=tuple(need("params")), sql=spec.get("sql"),
                 python=spec.get("python"), writes=writes,
                 materialized=spec.get("materialized", "table"),
                 skip_when=spec.get("skip_when"), stores=spec.get("stores"),
                 runs_in=spec.get("runs_in"), carries=tuple(spec.get("carries") or ()),
                 in_place=bool(spec.get("in_place")))


def order(models: list[Model], sources: dict[str, str]) -> tuple[Model, ...]:
    """The models in an order where each comes after every model it reads; of the models
    ready to run, the one of the earliest stage first, then the first listed."""
    maker: dict[str, Model] = {}
    for m in models:
        for table in m.outputs:
            if table in maker:
                raise ManifestError(f"manifest.yaml: 表 {table} 由 {maker[table].name} 与 "
                                    f"{m.name} 两个模型生成")
            maker[table] = m
    needs: dict[str, set[str]] = {}
    for m in models:
        deps = set()
        for read in m.reads:
            if read in maker:
                deps.add(maker[read].name)
            elif read not in sources and not is_parameter_table(read):
                raise ManifestError(f"manifest.yaml: 模型 {m.name} 读取的 {read} 既不是模型、"
                                    "数据源，也不是参数表")
        deps.discard(m.name)
        needs[m.name] = deps
    done: list[Model] = []
    placed: set[str] = set()
    pending = list(models)
    while pending:
        candidates = [m for m in pending if needs[m.name] <= placed]
        ready = min(candidates, key=lambda m: STAGES.index(m.stage)) if candidates else None
        if ready is None:
            cycle = ", ".join(m.name for m in pending[:6])
            raise ManifestError(f"manifest.yaml: 模型之间有循环依赖（{cycle} …）")
        done.append(ready)
        placed.add(ready.name)
        pending.remove(ready)
    return tuple(done)


def load_graph(path: Path = MANIFEST) -> Graph:
    """Read and check the manifest; the models in run order."""
    content = read_yaml(path)
    models = [_model(name, spec) for name, spec in content["models"].items()]
    sources = dict(content.get("sources") or {})
    return Graph(order(models, sources), sources)


@functools.cache
def graph() -> Graph:
    """The package's stage graph (read once)."""
    return load_graph()
