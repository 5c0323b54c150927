"""Harvest efficiency per source, against the bundled fake APIs (which enforce the real limits).

Prints, for every source:
  (a) rate use: requests sent under the busiest declared budget divided by what that budget
      allows over the same span (target >= 0.90), and the 429s we caused (target 0);
  (b) rerun cost: requests of an unchanged incremental rerun / requests of the first run
      (target <= 0.10), on the demo data scaled up by --scale copies.

By default time is virtual (waits are instant, processing is free), which isolates the pacing
logic; --real runs on the wall clock with every budget multiplied by --speedup so that the time
spent mapping and storing counts against the rate too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from sonoharvest import warehouse
from sonoharvest.demo import demo_services
from sonoharvest.demo.fakeapi import FakeInternet
from sonoharvest.harvest import harvest
from sonoharvest.http import RealClock, VirtualClock
from sonoharvest.settings import Settings
from sonoharvest.sources import SOURCE_NAMES, get_source
from sonoharvest.sources.base import Source

sys.path.insert(0, str(Path(__file__).parent))
from scale_demo import scale_services  # noqa: E402


def scaled_source(source: Source, speedup: float) -> Source:
    def limits(base: str, auth: bool) -> list[tuple[str, float]]:
        return [(p, r * speedup) for p, r in source.rate_limits(base, auth)]
    return Source(**{**{f: getattr(source, f) for f in source.__dataclass_fields__},
                     "rate_limits": limits})


def measure(name: str, scale: int, real: bool, speedup: float, tokens: bool
            ) -> dict[str, float]:
    secrets = {f"{n}_token": "bench-token" for n in ("zenodo", "github", "hf")} if tokens else {}
    settings = Settings(home=Path(tempfile.mkdtemp()), kaggle_api_token="bench-token", **secrets)
    source = get_source(name)
    services = scale_services(name, demo_services(name), scale)
    if real:
        source = scaled_source(source, speedup)
        for service in services:
            service.limits = [(p, r * speedup) for p, r in service.limits]
    con = warehouse.open_warehouse(":memory:")
    clock = RealClock() if real else VirtualClock()
    counts = []
    for _ in range(2):
        internet = FakeInternet(services, clock)
        started = time.perf_counter()
        result = asyncio.run(harvest(con, settings, [source], transport=internet.transport(),
                                     clock=clock))[name]
        if result.status != "ok":
            raise SystemExit(f"{name}: {result.message}")
        counts.append((internet, result, time.perf_counter() - started))
    first, rerun = counts[0], counts[1]
    internet = first[0]
    base = source.base_url(settings)
    use = _rate_use(internet, source.rate_limits(base, tokens), clock if not real else None)
    return {"records": first[1].counts["new"], "requests": first[1].counts["requests"],
            "rerun_requests": rerun[1].counts["requests"], "rate_use": use,
            "our_429": internet.rejected, "seconds": first[2]}


def _rate_use(internet: FakeInternet, limits: list[tuple[str, float]],
              _clock: object) -> float:
    """Busiest budget: (requests - 1) / (span * rate / 60), from the server's own log times."""
    best = 0.0
    for prefix, per_minute in limits:
        times = [t for (_, url, _), t in zip(internet.log, internet.times, strict=True)
                 if url.startswith(prefix)]
        if len(times) < 3:
            continue
        span = times[-1] - times[0]
        allowed = span * per_minute / 60.0
        if allowed > 0:
            best = max(best, (len(times) - 1) / allowed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20, help="copies of the demo data")
    parser.add_argument("--real", action="store_true", help="wall clock instead of virtual")
    parser.add_argument("--speedup", type=float, default=20.0, help="budget multiplier for --real")
    parser.add_argument("--source", action="append", choices=SOURCE_NAMES)
    parser.add_argument("--anonymous", action="store_true",
                        help="no tokens (Kaggle still needs one): smaller pages, lower budgets")
    args = parser.parse_args()
    print(f"demo data x{args.scale}, {'anonymous' if args.anonymous else 'with tokens'}, "
          f"{'wall clock, budgets x' + str(args.speedup) if args.real else 'virtual clock'}")
    print(f"{'source':<12}{'records':>8}{'requests':>9}{'rerun':>7}{'rerun/first':>12}"
          f"{'rate use':>10}{'our 429s':>9}{'seconds':>9}")
    for name in args.source or SOURCE_NAMES:
        m = measure(name, args.scale, args.real, args.speedup, not args.anonymous)
        print(f"{name:<12}{m['records']:>8}{m['requests']:>9}{m['rerun_requests']:>7}"
              f"{m['rerun_requests'] / m['requests']:>12.3f}{m['rate_use']:>10.2f}"
              f"{m['our_429']:>9}{m['seconds']:>9.1f}")


if __name__ == "__main__":
    main()
