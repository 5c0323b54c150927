"""Shared test fixtures: settings in a temp home, an in-memory warehouse, a virtual clock."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

from sonoharvest import warehouse  # noqa: E402
from sonoharvest.demo.fakeapi import FakeInternet, FakeService  # noqa: E402
from sonoharvest.harvest import SourceResult, harvest  # noqa: E402
from sonoharvest.http import VirtualClock  # noqa: E402
from sonoharvest.settings import REPO_ROOT, Settings  # noqa: E402
from sonoharvest.sources import get_source  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"

_ENV = ("SONOHARVEST_", "ZENODO_TOKEN", "GITHUB_TOKEN", "HF_TOKEN", "KAGGLE_", "FIGSHARE_TOKEN")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's tokens or config."""
    for key in list(os.environ):
        if key.startswith(_ENV):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def con():
    db = warehouse.open_warehouse(":memory:")
    yield db
    db.close()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def run_harvest(con, settings: Settings, names: list[str], services: list[FakeService],
                clock: VirtualClock, *, full: bool = False) -> tuple[dict[str, SourceResult],
                                                                     FakeInternet]:
    """Harvest the named sources against fake services; returns results and the fake internet."""
    internet = FakeInternet(services, clock)
    results = asyncio.run(harvest(
        con, settings, [get_source(n) for n in names], full=full,
        transport=internet.transport(), clock=clock,
    ))
    return results, internet


def source_rubrics(tmp_path: Path, source: str, **overrides: Any) -> Path:
    """A rubrics folder with the real vocabulary and `<source>.yaml` plus `overrides`."""
    folder = tmp_path / "rubrics" / "harvest"
    folder.mkdir(parents=True, exist_ok=True)
    shipped = REPO_ROOT / "rubrics" / "harvest"
    (folder / "vocabulary.yaml").write_text((shipped / "vocabulary.yaml").read_text())
    config = {**yaml.safe_load((shipped / f"{source}.yaml").read_text()), **overrides}
    (folder / f"{source}.yaml").write_text(yaml.safe_dump(config))
    return folder.parent


class DiesAfter:
    """A fake service that answers like `fake` for `n` requests, then 503 for good."""

    def __init__(self, fake: FakeService, n: int) -> None:
        self.host, self.paths, self.limits = fake.host, fake.paths, []
        self.fake, self.left = fake, n

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.left -= 1
        return self.fake.handle(request) if self.left >= 0 else httpx.Response(503)
