"""The simulation as data: the stage manifest (``manifest.yaml``), the run's parameters as
tables SQL reads by their dotted names (:mod:`.params`), the graph the run order is derived
from (:mod:`.graph`), and the runner (:mod:`.run`)."""
