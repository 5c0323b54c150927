"""The explicit registry of sources. Adding one: a module here and a line in SOURCE_NAMES."""

from __future__ import annotations

from importlib import import_module

from sonoharvest.sources.base import Source, SourceContext

SOURCE_NAMES: tuple[str, ...] = ("zenodo", "github", "kaggle", "huggingface", "papers", "datacite",
                                 "figshare", "grandchallenge")


def get_source(name: str) -> Source:
    if name not in SOURCE_NAMES:
        raise KeyError(f"unknown source {name!r}; choose from {', '.join(SOURCE_NAMES)}")
    return import_module(f"sonoharvest.sources.{name}").SOURCE


def all_sources() -> list[Source]:
    return [get_source(name) for name in SOURCE_NAMES]


__all__ = ["SOURCE_NAMES", "Source", "SourceContext", "all_sources", "get_source"]
