"""Reading the behaviour files in rubrics/: one error message shape for every file."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml


def read_yaml(path: Path, restore: str) -> Any:
    """Parsed YAML; a missing or unreadable file raises ValueError naming it.

    `restore` names the file to restore from the repository, e.g. "rubrics/access.yaml".
    """
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found; restore {restore} from the repository "
                         "or pass the path of another one.") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None


def read_sections(path: Path, restore: str, sections: Collection[str]) -> dict[str, Any]:
    """A YAML mapping whose top-level keys must all be among `sections`."""
    data = read_yaml(path, restore)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with sections {sorted(sections)}.")
    extra = set(data) - set(sections)
    if extra:
        raise ValueError(f"{path}: unknown section(s) {sorted(extra)}; "
                         f"allowed: {sorted(sections)}.")
    return data
