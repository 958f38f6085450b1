"""Who may see what, and how sign-in and the 预分组 API are guarded: the settings of
``data/policy/access.yaml``, read by their own names at the date they are used.

These parameters are read by the dashboard, the API and the reports while they serve, not by
the pipeline's stages (``SECTION`` is left out of the stage graph's parameter check).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from dip_sim.paths import POLICY_DIR
from dip_sim.policy import load_baseline

SECTION = "access"


@dataclass(frozen=True)
class AccessSettings:
    """The values of ``data/policy/access.yaml`` in force on one day (units in the file)."""

    suppression_min_hospitals: int
    signin_max_failures: int
    signin_window_minutes: int
    signin_lock_minutes: int
    signin_delay_seconds: float
    signin_delay_max_seconds: float
    session_hours: float
    api_requests_per_minute: int
    api_batch_max: int
    feedback_attachment_max_mb: float


def access_settings(day: dt.date | None = None) -> AccessSettings:
    """The access settings in force on ``day`` (today by default). Read again when a policy
    file changes; otherwise kept (a page asks for them at every read)."""
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(POLICY_DIR.glob("*.yaml")))
    return _settings(day or dt.date.today(), stamp)


@functools.lru_cache(maxsize=8)
def _settings(day: dt.date, stamp: tuple) -> AccessSettings:
    """The settings on ``day`` from the policy files as ``stamp`` (names, mtimes) found them."""
    params = load_baseline()
    values = {name.split(".", 1)[1]: p.value_on(day) for name, p in params.items()
              if name.startswith(f"{SECTION}.")}
    return AccessSettings(**values)
