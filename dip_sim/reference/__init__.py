"""Reference tables (code lists, procedure classes, sex/age rules) loaded into the warehouse."""

from dip_sim.reference.load import PROC_CLASSES, load_reference

__all__ = ["PROC_CLASSES", "load_reference"]
