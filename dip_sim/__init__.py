"""dip-sim: DIP (区域点数法总额预算和按病种分值付费) simulation platform."""

__version__ = "0.1.0"
