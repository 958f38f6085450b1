"""The routes of the 预分组 API (FastAPI): group one discharge or a batch, look up a group,
search the catalogue, health. Every route but health needs a hospital's API key
(``X-API-Key`` or ``Authorization: Bearer``); a key answers only for its own hospital (its
level's points) and is rate-limited (``access.api_requests_per_minute``); a batch holds at most
``access.api_batch_max`` discharges (``data/policy/access.yaml``).

Small cells: a key sees the catalogue's published fields (code, type, name, points) and its
own discharges' answers, never per-group statistics (case counts, mean costs by level).
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations, which
# name the local dependency `caller`
import collections
import io
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import polars as pl
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from dip_sim.access import access_settings
from dip_sim.api.grouper import Grouper, GrouperPool, RequestError
from dip_sim.api.keys import ApiKey, check_key
from dip_sim.api.schemas import (
    BatchAnswer,
    CatalogEntry,
    Discharge,
    GroupAnswer,
    GroupInfo,
    Health,
    as_text,
)
from dip_sim.ingest.errors import IngestError
from dip_sim.ingest.readers import decode_csv_bytes

CATALOG_LIMIT = 50  # rows a catalogue search returns at most
_NOT_A_LIST = "请求体应为病例对象的 JSON 数组，如 [{\"case_id\": …, \"main_dx\": …}]"
_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="医院的 API 密钥")
_bearer = HTTPBearer(auto_error=False, description="或 Authorization: Bearer <密钥>")


class RateLimiter:
    """At most ``per_minute`` requests per key in any 60 seconds (a sliding window)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.seen: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.lock = threading.Lock()

    def wait_seconds(self, key_id: str, now: float | None = None) -> int:
        """0 and the request counted, or the whole seconds to wait before the next one."""
        now = time.monotonic() if now is None else now
        with self.lock:
            window = self.seen[key_id]
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.per_minute:
                return max(1, int(window[0] + 60 - now + 0.999))
            window.append(now)
            return 0


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Discharges (field → value) as a table of text cells, as a file would give them."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pl.DataFrame({n: [as_text(r.get(n)) for r in rows] for n in names},
                        schema={n: pl.String for n in names})


def create_app(db: Path, scenario: str = "baseline", keys_file: Path | None = None,
               grouper: Grouper | None = None, workers: int = 1,
               region: str | None = None) -> FastAPI:
    """The API over ``scenario`` of the warehouse ``db`` (its catalogue computed once here, in
    each of ``workers`` groupers: that many requests are grouped at the same time), in pooling
    ``region`` when the warehouse has several (then only its hospitals are served)."""
    grouper = GrouperPool(db, scenario, workers, [grouper] if grouper else None, region)
    settings = access_settings()
    limiter = RateLimiter(settings.api_requests_per_minute)
    app = FastAPI(title="dip-sim 预分组接口",
                  description="医院 HIS 调用的 DIP 预分组服务：病例 → 病种、入组路径、分值、"
                              "费用偏差与预计支付。说明见 docs/api.md。", version="1")
    app.state.grouper = grouper

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"字段 {'.'.join(str(p) for p in e['loc'] if p != 'body') or '请求体'}："
                    f"{e['msg']}" for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": "；".join(problems)})

    @app.exception_handler(RequestError)
    async def _unreadable(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    def caller(header: Annotated[str | None, Depends(_key_header)] = None,
               bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None
               ) -> ApiKey:
        token = header or (bearer.credentials if bearer else None)
        key = check_key(token, keys_file) if token else None
        if key is None:
            raise HTTPException(401, "缺少或无效的 API 密钥（请求头 X-API-Key），请向医保局索取",
                                headers={"WWW-Authenticate": "Bearer"})
        if grouper.hospitals is not None and key.hospital_id not in grouper.hospitals:
            raise HTTPException(403, f"本服务为统筹区 {grouper.region} 预分组，医院 "
                                     f"{key.hospital_id} 不属于该统筹区：请调用其统筹区的服务")
        wait = limiter.wait_seconds(key.key_id)
        if wait:
            raise HTTPException(429, f"请求过于频繁：每个密钥每分钟最多 "
                                     f"{limiter.per_minute} 次，请 {wait} 秒后重试",
                                headers={"Retry-After": str(wait)})
        return key

    def answer(rows: pl.DataFrame, key: ApiKey) -> pl.DataFrame:
        if not rows.height or not rows.width:
            raise RequestError("请求中没有病例")
        if rows.height > settings.api_batch_max:
            raise RequestError(f"一次最多 {settings.api_batch_max} 个病例，本次 {rows.height} 个：请分批提交")
        results = grouper.group(grouper.complete(rows, key.hospital_id))
        others = sorted(set(results["hospital_id"].drop_nulls()) - {key.hospital_id})
        if others:
            raise HTTPException(403, f"本密钥属于医院 {key.hospital_id}，不能为其他医院 "
                                     f"{', '.join(others)} 预分组")
        return results

    @app.post("/v1/group", response_model=GroupAnswer, summary="单个病例预分组",
              responses={401: {"description": "缺少或无效的密钥"}, 403: {"description": "他院病例"},
                         422: {"description": "字段缺失或无法识别"}, 429: {"description": "超过频率限制"}})
    def group_one(discharge: Discharge, key: Annotated[ApiKey, Depends(caller)]) -> dict:
        """一个出院病例（合同字段或结算清单中文名称）→ 病种、入组路径、本院等级分值、费用偏差档、
        预计支付与未通过的质控规则。"""
        return answer(_frame([discharge.model_dump(exclude_none=True)]), key).to_dicts()[0]

    @app.post("/v1/group:batch", response_model=BatchAnswer, summary="批量预分组",
              openapi_extra={"requestBody": {"content": {
                  "application/json": {"schema": {"type": "array",
                                                  "items": {"$ref": "#/components/schemas/Discharge"}}},
                  "text/csv": {"schema": {"type": "string"}}}, "required": True}})
    async def group_batch(request: Request, key: Annotated[ApiKey, Depends(caller)]) -> Response:
        """最多 access.api_batch_max 个病例：JSON 数组，或 CSV（首行为表头，UTF-8 或 GB18030）。"""
        body = await request.body()
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        rows = _csv_rows(body) if kind in ("text/csv", "application/csv") else _json_rows(body)
        results = await _in_thread(answer, rows, key)
        # written by polars, not validated again field by field: a batch of 10,000 answers
        return Response(b'{"n": %d, "results": ' % results.height + results.write_json().encode()
                        + b"}", media_type="application/json")

    @app.get("/v1/groups/{code}", response_model=GroupInfo, summary="病种详情")
    def group_info(code: str, key: Annotated[ApiKey, Depends(caller)]) -> dict:
        """目录中一个病种的公开字段，及其在本院等级的分值（不含病例数、均费等统计）。"""
        found = grouper.group_points(code, key.hospital_id)
        if found is None:
            raise HTTPException(404, f"目录中没有病种 {code}")
        return found

    @app.get("/v1/catalog", response_model=list[CatalogEntry], summary="病种目录检索")
    def catalog(key: Annotated[ApiKey, Depends(caller)],
                q: Annotated[str, Query(description="病种编码或中文名称的一部分", max_length=100)] = "",
                limit: Annotated[int, Query(ge=1, le=CATALOG_LIMIT,
                                            description="最多返回条数")] = CATALOG_LIMIT) -> list:
        """按编码或中文名称检索目录（公开字段）。"""
        return grouper.search(q.strip(), limit)

    @app.get("/v1/health", response_model=Health, summary="服务状态")
    def health() -> dict:
        """服务所用情景、年度与点值。"""
        return grouper.health()

    return app


async def _in_thread(function, *args):
    """Run a blocking call (the grouping) in the thread pool."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)


def _json_rows(body: bytes) -> pl.DataFrame:
    """A JSON array of discharges as a table of text cells (read by polars: no loop in Python
    over 10,000 objects); a value that is an object or a list is refused, naming its field."""
    import json

    try:
        frame = pl.read_json(io.BytesIO(body), infer_schema_length=None)
    except pl.exceptions.PolarsError:  # mixed value types: read in Python, each value as text
        try:
            rows = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RequestError(f"请求体不是合法的 JSON：{exc}") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise RequestError(_NOT_A_LIST) from None
        for i, row in enumerate(rows, start=1):
            bad = [k for k, v in row.items() if isinstance(v, (dict, list))]
            if bad:
                raise RequestError(f"第 {i} 个病例 字段 {', '.join(bad)}：应为文本或数字") from None
        return _frame(rows)
    if not body.lstrip().startswith(b"["):
        raise RequestError(_NOT_A_LIST)
    nested = [n for n, t in frame.schema.items() if isinstance(t, (pl.Struct, pl.List))]
    if nested:
        raise RequestError(f"字段 {', '.join(nested)}：应为文本或数字")
    return frame.with_columns(pl.all().cast(pl.String))


def _csv_rows(body: bytes) -> pl.DataFrame:
    try:
        data, _ = decode_csv_bytes(body, "CSV 请求体")
    except IngestError as exc:
        raise RequestError(str(exc)) from None
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise RequestError(f"CSV 请求体无法读取：{str(exc).splitlines()[0]}") from None
    return frame
