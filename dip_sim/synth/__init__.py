"""Synthetic DIP input data for a model city (Yangquan 阳泉, Shanxi).

``generate`` writes ``hospitals``, and per year ``cases_{year}`` and ``settlements_{year}``
(CSV or Parquet) following the input contract in :mod:`dip_sim.schema`: realistic 医保版 2.0
diagnosis and procedure codes from ``data/reference``, costs by case type, hospital level and
year, and a few deliberate data problems for the quality stage (see :mod:`.defects`).
"""

from dip_sim.synth.generator import generate

__all__ = ["generate"]
