"""Reading the project's own YAML files (parameters, contracts, the stage manifest), with
libyaml's loader where PyYAML was built with it: they are read at every start, and the pure
Python loader takes about five times as long."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    """The document in ``path`` (UTF-8), as ``yaml.safe_load`` reads it."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LOADER)
