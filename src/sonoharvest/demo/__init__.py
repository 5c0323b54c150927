"""Offline stand-ins for the real APIs: fake services with bundled demo records."""

from __future__ import annotations

from importlib import import_module

from sonoharvest.demo.fakeapi import Faults, FakeInternet, FakeService
from sonoharvest.http import Clock
from sonoharvest.sources import SOURCE_NAMES


def demo_service(name: str) -> FakeService:
    """The fake service of a source, loaded with its bundled demo records."""
    return import_module(f"sonoharvest.demo.{name}").service()


def build_internet(clock: Clock, names: tuple[str, ...] = SOURCE_NAMES,
                   faults: Faults | None = None) -> FakeInternet:
    services: dict[str, FakeService] = {}
    for name in names:
        service = demo_service(name)
        services.setdefault(service.host, service)
    return FakeInternet(list(services.values()), clock, faults)


__all__ = ["Faults", "FakeInternet", "build_internet", "demo_service"]
