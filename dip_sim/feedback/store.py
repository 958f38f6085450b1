"""The feedback store: objections, the panel's decisions and confirmations, append-only, in a
database made for concurrent writes (docs/feedback.md).

Where: PostgreSQL when ``$DIP_SIM_FEEDBACK_URL`` is set (``postgresql://user:pw@host/db``,
driven by psycopg); otherwise an SQLite file, ``$DIP_SIM_FEEDBACK_DB`` or
``data/feedback.sqlite`` (git-ignored), in WAL mode with a busy timeout, so that many
dashboard sessions write at once and readers never block the writer. It is not the DuckDB
warehouse: a batch run holding the warehouse does not stop a hospital from raising an
objection, and a re-simulation does not touch what was raised or decided. One code path,
SQLAlchemy Core, serves both databases.

Append-only: every change is a new row (who, when, what); no row is updated or deleted, and
the database refuses it (triggers). The status of an objection is its latest decision
event (highest ``event_id``), ``open`` before the first. Reads take the reader: a hospital
user gets its own hospital's objections and the decisions on them only, whatever it asks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError

from dip_sim.auth import User
from dip_sim.feedback.links import AdjustmentLink
from dip_sim.feedback.rules import (
    ANSWERING,
    PANEL_ROLES,
    RAISE_ROLES,
    Attachment,
    FeedbackError,
    check_decision,
    check_text,
    check_topic,
    require_role,
)
from dip_sim.paths import DATA_DIR

ENV_URL = "DIP_SIM_FEEDBACK_URL"
ENV_DB = "DIP_SIM_FEEDBACK_DB"
DEFAULT_DB = DATA_DIR / "feedback.sqlite"
# how long an SQLite writer waits for another's transaction before giving up (seconds); a
# write transaction here lasts milliseconds, so this is only reached by a stuck process
BUSY_TIMEOUT_SECONDS = 30
# the PostgreSQL advisory lock serialising the panel's decisions and confirmations (any
# constant shared by every process of the store)
PANEL_LOCK = 715_001

metadata = sa.MetaData()

attachments = sa.Table(
    "feedback_attachments", metadata,
    sa.Column("attachment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("media_type", sa.String(120), nullable=False),
    sa.Column("size_bytes", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("uploaded_at", sa.DateTime, nullable=False),
    sa.Column("uploaded_by", sa.String(80), nullable=False),
)
objections = sa.Table(
    "feedback_objections", metadata,
    sa.Column("objection_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("raised_at", sa.DateTime, nullable=False),
    sa.Column("raised_by", sa.String(80), nullable=False),
    sa.Column("hospital_id", sa.String(40), nullable=False, index=True),
    sa.Column("scenario", sa.String(120), nullable=False),
    sa.Column("catalog_version", sa.String(64), nullable=False),
    sa.Column("target", sa.String(10), nullable=False),
    sa.Column("group_code", sa.String(80)),
    sa.Column("case_id", sa.String(80)),
    sa.Column("topic", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("attachment_id", sa.Integer, sa.ForeignKey("feedback_attachments.attachment_id")),
)
decisions = sa.Table(
    "feedback_decisions", metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("objection_id", sa.Integer, sa.ForeignKey("feedback_objections.objection_id"),
              nullable=False, index=True),
    sa.Column("decided_at", sa.DateTime, nullable=False),
    sa.Column("decided_by", sa.String(80), nullable=False),
    sa.Column("decision", sa.String(10), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("adjustment_file", sa.String(255)),
    sa.Column("adjustment_id", sa.String(80)),
    sa.Column("adjustment_sha256", sa.String(64)),
)
confirmations = sa.Table(
    "feedback_confirmations", metadata,
    sa.Column("confirmation_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("confirmed_at", sa.DateTime, nullable=False),
    sa.Column("confirmed_by", sa.String(80), nullable=False),
    sa.Column("scenario", sa.String(120), nullable=False),
    sa.Column("catalog_version", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
)
answers = sa.Table(
    "feedback_confirmation_answers", metadata,
    sa.Column("confirmation_id", sa.Integer,
              sa.ForeignKey("feedback_confirmations.confirmation_id"), primary_key=True),
    sa.Column("objection_id", sa.Integer, sa.ForeignKey("feedback_objections.objection_id"),
              primary_key=True),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("feedback_decisions.event_id"),
              nullable=False),
)
TABLES = (attachments, objections, decisions, confirmations, answers)

# the database itself refuses to change or remove a row (append-only)
_PG_FUNCTION = sa.DDL("""
    CREATE OR REPLACE FUNCTION feedback_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '反馈记录只增不改：表 %% 的记录不能修改或删除', TG_TABLE_NAME;
    END $$""")
event.listen(metadata, "before_create", _PG_FUNCTION.execute_if(dialect="postgresql"))
for _table in TABLES:
    event.listen(_table, "after_create", sa.DDL(
        f"CREATE TRIGGER {_table.name}_append_only BEFORE UPDATE OR DELETE ON {_table.name} "
        "FOR EACH ROW EXECUTE FUNCTION feedback_append_only()").execute_if(dialect="postgresql"))
    for _op in ("UPDATE", "DELETE"):
        event.listen(_table, "after_create", sa.DDL(
            f"CREATE TRIGGER {_table.name}_no_{_op.lower()} BEFORE {_op} ON {_table.name} "
            f"BEGIN SELECT RAISE(ABORT, '反馈记录只增不改：表 {_table.name} 的记录不能"
            f"{'修改' if _op == 'UPDATE' else '删除'}'); END").execute_if(dialect="sqlite"))


def store_url() -> str:
    """The configured store: ``$DIP_SIM_FEEDBACK_URL``, else the SQLite file's URL."""
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        return url
    path = Path(os.environ.get(ENV_DB, "").strip() or DEFAULT_DB).expanduser()
    return f"sqlite:///{path.resolve()}"


def describe(url: str) -> str:
    """The store for a message: the SQLite file, or the PostgreSQL server and database
    (never the password)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite {parsed.database}"
    return f"PostgreSQL {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


def _engine(url: str) -> Engine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        # psycopg 3 is the driver installed; postgresql:// alone would ask for psycopg2
        return sa.create_engine(parsed.set(drivername="postgresql+psycopg"),
                                pool_pre_ping=True)
    if backend != "sqlite":
        raise FeedbackError(f"反馈库地址 {describe(url)} 不受支持：请用 postgresql://… "
                            f"（{ENV_URL}）或 SQLite 文件（{ENV_DB}）")
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        # SQLAlchemy emits BEGIN itself (below), not the sqlite3 module; WAL lets readers
        # and one writer work at once, and the busy timeout makes writers queue
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # a writing transaction takes the write lock at BEGIN: a deferred one that read first
        # could not upgrade when another writer committed in between (SQLITE_BUSY at once)
        immediate = conn.get_execution_options().get("feedback_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _now() -> dt.datetime:
    """Now in UTC, without a zone (both databases store it as such)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class FeedbackStore:
    """The feedback store at one URL (see :func:`store_url`)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or store_url()
        self.engine = _engine(self.url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        try:
            with self._writing(panel=True) as conn:  # one process creates the tables
                metadata.create_all(conn)
        except OperationalError as exc:
            raise FeedbackError(f"无法打开反馈库（{describe(self.url)}）：{exc.orig}") from exc

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    @contextlib.contextmanager
    def _writing(self, panel: bool = False) -> Iterator[Connection]:
        """A write transaction: the SQLite write lock taken at BEGIN; on PostgreSQL, for the
        panel's writes (``panel``), its advisory lock, so that a decision and a confirmation
        never interleave."""
        with self.engine.execution_options(feedback_write=True).begin() as conn:
            if self.is_postgres and panel:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PANEL_LOCK})
            yield conn

    # --- writes ---------------------------------------------------------------------------

    def raise_objection(self, user: User, *, scenario: str, catalog_version: str, target: str,
                        topic: str, reason: str, group_code: str | None = None,
                        case_id: str | None = None,
                        attachment: Attachment | None = None) -> int:
        """Record a hospital user's objection (its own hospital's); return its number.

        ``target`` ``group`` needs ``group_code``; ``case`` needs ``case_id`` (and the case's
        group, if it has one, as ``group_code``: the caller has checked that the case is the
        hospital's own). The scenario and catalogue version are those it was raised against.
        """
        require_role(user, RAISE_ROLES, "提出异议")
        check_topic(target, topic)
        text = check_text(reason, "异议理由")
        if target == "group" and not (group_code or "").strip():
            raise FeedbackError("请选择提出异议的病种。")
        if target == "case" and not (case_id or "").strip():
            raise FeedbackError("请填写提出异议的病例（清单流水号）。")
        check_text(scenario, "情景")
        check_text(catalog_version, "目录版本")
        now = _now()
        with self._writing() as conn:
            attachment_id = None
            if attachment is not None:
                attachment_id = conn.execute(attachments.insert().values(
                    file_name=attachment.file_name, media_type=attachment.media_type,
                    size_bytes=len(attachment.content), sha256=attachment.sha256,
                    content=attachment.content, uploaded_at=now, uploaded_by=user.name,
                )).inserted_primary_key[0]
            return conn.execute(objections.insert().values(
                raised_at=now, raised_by=user.name, hospital_id=user.hospital_id,
                scenario=scenario, catalog_version=catalog_version, target=target,
                group_code=(group_code or "").strip() or None,
                case_id=(case_id or "").strip() or None, topic=topic, reason=text,
                attachment_id=attachment_id)).inserted_primary_key[0]

    def decide(self, user: User, objection_id: int, decision: str, reason: str = "",
               adjustment: AdjustmentLink | None = None) -> int:
        """Record the panel's decision on an objection; return the event's number.

        Accepted: linked to the catalogue adjustment it led to (checked by the caller through
        :func:`dip_sim.feedback.links.check_link`); rejected: with the reason; deferred. An
        objection a confirmation has answered is closed: a new decision is refused.
        """
        require_role(user, PANEL_ROLES, "对异议作出决定")
        text = check_decision(decision, reason, adjustment is not None)
        with self._writing(panel=True) as conn:
            if conn.execute(sa.select(objections.c.objection_id).where(
                    objections.c.objection_id == objection_id)).first() is None:
                raise FeedbackError(f"没有编号为 {objection_id} 的异议。")
            answered = conn.execute(
                sa.select(confirmations.c.catalog_version)
                .join(answers, answers.c.confirmation_id == confirmations.c.confirmation_id)
                .where(answers.c.objection_id == objection_id)).first()
            if answered is not None:
                raise FeedbackError(f"异议 #{objection_id} 已由目录版本 {answered[0]} 的确认答复，"
                                    "不能再改变决定；如有新情况，请医院重新提出异议。")
            return conn.execute(decisions.insert().values(
                objection_id=objection_id, decided_at=_now(), decided_by=user.name,
                decision=decision, reason=text,
                adjustment_file=adjustment.file if adjustment else None,
                adjustment_id=adjustment.adjustment_id if adjustment else None,
                adjustment_sha256=adjustment.sha256 if adjustment else None,
            )).inserted_primary_key[0]

    def confirm(self, user: User, scenario: str, catalog_version: str, note: str = "") -> int:
        """The panel confirms (确认) ``scenario``'s catalogue version after its round of
        feedback; return the confirmation's number.

        It answers every objection not answered before whose decision is accepted or
        rejected (a deferred one waits for the next round). Refused while an objection has
        no decision yet: the round is not over.
        """
        require_role(user, PANEL_ROLES, "确认目录版本")
        check_text(scenario, "情景")
        check_text(catalog_version, "目录版本")
        with self._writing(panel=True) as conn:
            status = _status_query().subquery()
            pending = conn.execute(
                sa.select(status.c.objection_id)
                .where(status.c.confirmation_id.is_(None), status.c.decision.is_(None))
                .order_by(status.c.objection_id)).scalars().all()
            if pending:
                shown = "、".join(f"#{n}" for n in pending[:10]) + (" …" if len(pending) > 10 else "")
                raise FeedbackError(f"尚有 {len(pending)} 条异议待处理（{shown}）：请先对每条作出决定"
                                    "（可暂缓），再确认目录版本。")
            answered = conn.execute(
                sa.select(status.c.objection_id, status.c.event_id)
                .where(status.c.confirmation_id.is_(None),
                       status.c.decision.in_(ANSWERING))).all()
            confirmation_id = conn.execute(confirmations.insert().values(
                confirmed_at=_now(), confirmed_by=user.name, scenario=scenario,
                catalog_version=catalog_version, note=(note or "").strip(),
            )).inserted_primary_key[0]
            if answered:
                conn.execute(answers.insert(), [
                    {"confirmation_id": confirmation_id, "objection_id": o, "event_id": e}
                    for o, e in answered])
            return confirmation_id

    # --- reads (scoped to the reader) -----------------------------------------------------

    def objections(self, user: User, hospital_id: str | None = None) -> pd.DataFrame:
        """The objections ``user`` may see with their current status, oldest first.

        A hospital user: its own hospital's only; the panel and the bureau: every hospital's,
        or ``hospital_id``'s when given. Columns: objection_id, raised_at, raised_by,
        hospital_id, scenario, catalog_version, target, group_code, case_id, topic, reason,
        attachment_name, status (open or the latest decision), decided_at, decided_by,
        decision_reason, adjustment_file, adjustment_id, confirmation_id (the confirmation
        that answered it), confirmed_version.
        """
        status = _status_query().subquery()
        query = (sa.select(
            objections.c.objection_id, objections.c.raised_at, objections.c.raised_by,
            objections.c.hospital_id, objections.c.scenario, objections.c.catalog_version,
            objections.c.target, objections.c.group_code, objections.c.case_id,
            objections.c.topic, objections.c.reason,
            attachments.c.file_name.label("attachment_name"),
            sa.func.coalesce(status.c.decision, "open").label("status"),
            status.c.decided_at, status.c.decided_by,
            status.c.reason.label("decision_reason"), status.c.adjustment_file,
            status.c.adjustment_id, status.c.confirmation_id,
            confirmations.c.catalog_version.label("confirmed_version"))
            .join(status, status.c.objection_id == objections.c.objection_id)
            .outerjoin(attachments, attachments.c.attachment_id == objections.c.attachment_id)
            .outerjoin(confirmations,
                       confirmations.c.confirmation_id == status.c.confirmation_id)
            .order_by(objections.c.objection_id))
        query = _scoped(query, user, hospital_id)
        return self._frame(query)

    def decisions(self, user: User, objection_id: int | None = None) -> pd.DataFrame:
        """Every decision event on the objections ``user`` may see (of ``objection_id`` only,
        when given), in the order they were made. Columns: event_id, objection_id,
        hospital_id, decided_at, decided_by, decision, reason, adjustment_file,
        adjustment_id, adjustment_sha256."""
        query = (sa.select(
            decisions.c.event_id, decisions.c.objection_id, objections.c.hospital_id,
            decisions.c.decided_at, decisions.c.decided_by, decisions.c.decision,
            decisions.c.reason, decisions.c.adjustment_file, decisions.c.adjustment_id,
            decisions.c.adjustment_sha256)
            .join(objections, objections.c.objection_id == decisions.c.objection_id)
            .order_by(decisions.c.event_id))
        if objection_id is not None:
            query = query.where(decisions.c.objection_id == objection_id)
        return self._frame(_scoped(query, user, None))

    def confirmations(self, user: User) -> pd.DataFrame:
        """The panel's confirmations, latest first, with how many objections each answered
        (a hospital user: how many of its own). Columns: confirmation_id, confirmed_at,
        confirmed_by, scenario, catalog_version, note, n_answered."""
        visible = _scoped(sa.select(objections.c.objection_id), user, None).subquery()
        counted = (sa.select(answers.c.confirmation_id,
                             sa.func.count().label("n_answered"))
                   .join(visible, visible.c.objection_id == answers.c.objection_id)
                   .group_by(answers.c.confirmation_id).subquery())
        query = (sa.select(confirmations,
                           sa.func.coalesce(counted.c.n_answered, 0).label("n_answered"))
                 .outerjoin(counted,
                            counted.c.confirmation_id == confirmations.c.confirmation_id)
                 .order_by(confirmations.c.confirmation_id.desc()))
        return self._frame(query)

    def attachment(self, user: User, objection_id: int) -> Attachment | None:
        """The attachment of an objection ``user`` may see; None when it has none. An
        objection of another hospital is refused to a hospital user."""
        query = _scoped(
            sa.select(objections.c.objection_id, attachments.c.file_name,
                      attachments.c.media_type, attachments.c.content)
            .outerjoin(attachments, attachments.c.attachment_id == objections.c.attachment_id)
            .where(objections.c.objection_id == objection_id), user, None)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise FeedbackError(f"没有编号为 {objection_id} 的异议（或不是本院的异议）。")
        if row.file_name is None:
            return None
        return Attachment(row.file_name, row.media_type, bytes(row.content))

    def _frame(self, query) -> pd.DataFrame:
        with self.engine.connect() as conn:
            result = conn.execute(query)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _status_query() -> sa.Select:
    """Each objection's latest decision event (all columns None while open) and the
    confirmation that answered it, if one did."""
    latest = (sa.select(decisions.c.objection_id,
                        sa.func.max(decisions.c.event_id).label("event_id"))
              .group_by(decisions.c.objection_id).subquery())
    return (sa.select(objections.c.objection_id, decisions.c.event_id, decisions.c.decision,
                      decisions.c.decided_at, decisions.c.decided_by, decisions.c.reason,
                      decisions.c.adjustment_file, decisions.c.adjustment_id,
                      answers.c.confirmation_id)
            .outerjoin(latest, latest.c.objection_id == objections.c.objection_id)
            .outerjoin(decisions, decisions.c.event_id == latest.c.event_id)
            .outerjoin(answers, answers.c.objection_id == objections.c.objection_id))


def _scoped(query: sa.Select, user: User, hospital_id: str | None) -> sa.Select:
    """``query`` (over ``objections``) limited to what ``user`` may read: a hospital user its
    own hospital's rows whatever it asked for; others all, or ``hospital_id``'s."""
    if user is None or user.role not in ("hospital", *PANEL_ROLES, "bureau"):
        raise FeedbackError("请先登录再查看异议。")
    if user.role == "hospital":
        return query.where(objections.c.hospital_id == (user.hospital_id or ""))
    if hospital_id:
        return query.where(objections.c.hospital_id == hospital_id)
    return query
