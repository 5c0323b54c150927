"""Serve the weekly flow from this machine: no work pool, no worker, one process.

    python deployments/serve.py            # Mondays 03:00 Europe/London, until stopped

The process registers the deployment with the Prefect API (a local server started with
`prefect server start`, or Prefect Cloud) and runs each scheduled run itself. One run at a
time: a run due while another is running, or several late runs after the machine was off,
collapse into one (CANCEL_NEW).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "flows"))

from prefect.client.schemas.objects import (  # noqa: E402
    ConcurrencyLimitConfig,
    ConcurrencyLimitStrategy,
)
from prefect.schedules import Cron  # noqa: E402
from weekly import weekly  # noqa: E402

SCHEDULE = Cron("0 3 * * 1", timezone="Europe/London")
ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1,
                                       collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


def main() -> None:
    weekly.serve(name="weekly", schedules=[SCHEDULE], global_limit=ONE_AT_A_TIME,
                 parameters={"sources": None, "full": False})


if __name__ == "__main__":
    main()
