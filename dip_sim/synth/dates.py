"""Discharge and settlement dates: how discharges spread over a year.

Discharges follow a mild winter peak, fewer discharges on weekends, a dip around the Spring
Festival (春节) and, in 2020, the COVID-19 drop of February and March. Dates are handled as
``numpy.datetime64[D]``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

# Spring Festival (春节) dates; other years fall back to 5 February.
SPRING_FESTIVAL: dict[int, str] = {
    2015: "2015-02-19",
    2016: "2016-02-08",
    2017: "2017-01-28",
    2018: "2018-02-16",
    2019: "2019-02-05",
    2020: "2020-01-25",
    2021: "2021-02-12",
    2022: "2022-02-01",
    2023: "2023-01-22",
    2024: "2024-02-10",
    2025: "2025-01-29",
}
# Relative discharge volume by month in 2020 (COVID-19: hospitals admitted few patients).
COVID_2020_MONTH_FACTOR: dict[int, float] = {1: 0.9, 2: 0.45, 3: 0.7, 4: 0.9}


def day_weights(year: int) -> tuple[np.ndarray, np.ndarray]:
    """Days of ``year`` (datetime64[D]) and the probability of a discharge on each."""
    start = np.datetime64(f"{year}-01-01")
    days = np.arange(start, np.datetime64(f"{year + 1}-01-01"))
    doy = (days - start).astype(np.int64)
    w = 1.0 + 0.12 * np.cos(2 * np.pi * (doy - 20) / 365.25)  # winter peak
    weekday = (days.astype(np.int64) + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    w *= np.select([weekday == 5, weekday == 6], [0.85, 0.7], 1.0)
    festival = np.datetime64(SPRING_FESTIVAL.get(year, f"{year}-02-05"))
    offset = (days - festival).astype(np.int64)
    w *= np.where((offset >= -6) & (offset <= 7), 0.5, 1.0)
    if year == 2020:
        month = np.array([d.month for d in days.astype(dt.date)])
        w *= np.array([COVID_2020_MONTH_FACTOR.get(int(m), 1.0) for m in month])
    return days, w / w.sum()


def sample_discharge_dates(year: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` discharge dates within ``year`` (datetime64[D])."""
    days, p = day_weights(year)
    cdf = np.cumsum(p)
    idx = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return days[np.minimum(idx, len(days) - 1)]


def settle_dates(discharge: np.ndarray, year: int, rng: np.random.Generator) -> np.ndarray:
    """Settlement on the discharge day or 0–3 days later, never after 31 December."""
    lag = rng.choice(4, size=len(discharge), p=[0.55, 0.25, 0.12, 0.08])
    return np.minimum(discharge + lag.astype("timedelta64[D]"), np.datetime64(f"{year}-12-31"))
