"""The request and answer models of the 预分组 API, with Chinese descriptions (OpenAPI /docs).

A discharge is sent in the input contract's fields (``docs/input_fields.md``: the 病案首页 and
结算 fields of one case); its model is generated from the contract (:data:`DISCHARGE_FIELDS`),
so a new field of the contract is a field of the API. The 结算清单's Chinese names are
accepted too (extra keys, recognised by ingest's header mapping).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from dip_sim.schema import INPUT_TABLES

# the fields of one discharge: its case record and its settlement (case_id once)
DISCHARGE_FIELDS = {c.name: c for kind in ("cases", "settlements") for c in INPUT_TABLES[kind]}

Discharge = create_model(
    "Discharge",
    __config__=ConfigDict(extra="allow", json_schema_extra={
        "description": "一个出院病例：病案首页与结算字段（字段名见 docs/input_fields.md，"
                       "也可用结算清单的中文名称，如 主要诊断代码、医疗费总额）"}),
    **{name: (str | int | float | None,
              Field(None, description=f"{c.label_zh}{'（必填）' if c.required else ''}"
                                      f"{'：' + c.description if c.description else ''}"))
       for name, c in DISCHARGE_FIELDS.items()},
)


class Finding(BaseModel):
    """One quality rule the discharge fails."""

    rule: str = Field(description="质控规则编码（data/reference/quality_rules.csv）")
    severity: str = Field(description="严重程度：critical 严重（不入组）、warning 提示")
    field: str | None = Field(description="涉及的字段")
    label: str = Field(description="规则名称")
    detail: str = Field(description="问题说明（含字段与取值）")


class GroupNaming(BaseModel):
    """How a group is named (empty for a discharge that is not grouped)."""

    group_code: str | None = Field(description="病种编码（未入组为空）")
    group_type: str | None = Field(description="病种类型：core 核心病种、comprehensive 综合病种")
    group_type_zh: str | None = Field(description="病种类型（中文）")
    group_name: str | None = Field(description="病种名称（诊断与手术操作的中文名称）")


class GroupAnswer(GroupNaming):
    """The group and points of one discharge, as the simulation gives them."""

    model_config = ConfigDict(json_schema_extra={"description": "一个病例的预分组结果"})
    case_id: str = Field(description="病例编号（请求中的 case_id；未给出时为行号）")
    hospital_id: str | None = Field(description="医疗机构编码")
    level: int | None = Field(description="医院等级（1、2、3）")
    grouped: bool = Field(description="是否入组")
    rule: str | None = Field(description="入组路径（中文）：哪条规则把病例放入该病种")
    trace: str | None = Field(description="入组路径（英文，同 case_groups.trace）")
    rw: float | None = Field(description="病种分值（目录库）")
    level_coefficient: float | None = Field(description="本院等级系数（基层病种为 1）")
    aux_type: str | None = Field(description="辅助分型类型（未启用时为空）")
    aux_coefficient: float | None = Field(description="辅助分型系数")
    primary_group: bool | None = Field(description="是否基层病种")
    tcm_factor: float | None = Field(description="中医优势病种分值系数")
    cost_ratio: float | None = Field(description="费用倍率 = 医疗总费用 ÷ 本院等级的病种标准费用")
    outlier: str | None = Field(description="费用偏差档：none 正常、low 费用超低、high 费用超高、"
                                            "extreme 极端异常")
    outlier_zh: str | None = Field(description="费用偏差档（中文）")
    case_points: float | None = Field(description="病例分值（本院等级，含费用偏差调整）")
    total_cost_yuan: float | None = Field(description="医疗总费用（元）")
    point_value_kind: str = Field(description="所用点值：budget 预算点值（年度内）、settlement "
                                              "结算点值（清算后）")
    point_value_kind_zh: str = Field(description="所用点值（中文）")
    point_value_yuan: float = Field(description="点值（元/分）")
    expected_payment_yuan: float | None = Field(description="预计 DIP 支付额（元）= 病例分值 × 点值")
    quality_status: str = Field(description="质控结论：首个严重问题，否则首个提示，否则 ok")
    quality_severity: str = Field(description="质控严重程度：critical、warning 或 ok")
    findings: list[Finding] = Field(description="未通过的质控规则（与 dip-sim quality 同一套规则）")


class BatchAnswer(BaseModel):
    """The answers of a batch, in the order of its discharges."""

    n: int = Field(description="病例数")
    results: list[GroupAnswer] = Field(description="各病例的预分组结果")


class CatalogEntry(GroupNaming):
    """One catalogue group: its published fields."""

    rw: float = Field(description="病种分值")


class GroupInfo(CatalogEntry):
    """A catalogue group's published fields and its points at the key's hospital level."""

    dx_key: str = Field(description="诊断（核心病种为亚目，综合病种为类目）")
    proc_key: str = Field(description="手术操作组合（以 + 连接；保守治疗为空）")
    proc_class: str | None = Field(description="操作类别")
    proc_class_zh: str | None = Field(description="操作类别（中文）")
    primary_group: bool | None = Field(description="是否基层病种（各级医院同分值）")
    tcm_group: bool | None = Field(description="是否中医优势病种")
    aux_dimension: str | None = Field(description="辅助分型维度（未分型为空）")
    level: int | None = Field(description="本院等级")
    level_coefficient: float | None = Field(description="本院等级系数")
    points_at_level: float | None = Field(description="本院等级的病种分值 = 病种分值 × 等级系数")


class Health(BaseModel):
    """What the service serves."""

    status: str = Field(description="ok")
    scenario: str = Field(description="情景")
    region: str | None = Field(None, description="统筹区编码（目录与点值所属统筹区）")
    year: int = Field(description="模拟年度（目录与点值所属年度）")
    point_value_kind: str = Field(description="预计支付所用点值：budget 或 settlement")
    point_value_yuan: float = Field(description="点值（元/分）")
    n_groups: int = Field(description="目录病种数")
    workers: int = Field(description="可同时处理的请求数（serve-api --workers）")


def as_text(value: Any) -> str | None:
    """A request value as the text a file cell would hold (None stays empty)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else str(value)
    return str(value)
