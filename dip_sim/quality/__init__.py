"""Quality (病案质控): one status per input case, and the per-case features grouping uses."""

from dip_sim.quality.status import run_quality

__all__ = ["run_quality"]
