"""Offline stand-ins for the real APIs: fake services with bundled demo records."""

from __future__ import annotations

from importlib import import_module

from sonoharvest.demo.fakeapi import FakeInternet, FakeService, Faults
from sonoharvest.http import Clock
from sonoharvest.sources import SOURCE_NAMES


def demo_services(name: str) -> list[FakeService]:
    """The fake services of a source, loaded with its bundled demo records."""
    return import_module(f"sonoharvest.demo.{name}").services()


def build_internet(clock: Clock, names: tuple[str, ...] = SOURCE_NAMES,
                   faults: Faults | None = None) -> FakeInternet:
    services = [service for name in names for service in demo_services(name)]
    return FakeInternet(services, clock, faults)


def web_internet(clock: Clock) -> FakeInternet:
    """The web pages behind the demo records' URLs, for link checking."""
    from sonoharvest.demo.web import services

    return FakeInternet(services(), clock)


__all__ = ["Faults", "FakeInternet", "build_internet", "demo_services", "web_internet"]
