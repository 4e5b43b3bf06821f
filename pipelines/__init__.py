"""Prefect flows over the DVC pipeline: DVC owns the DAG and what is up to date, Prefect schedules and shows.

Importing this package makes Prefect quiet and offline unless the user already chose otherwise
(no telemetry, no server analytics); the variables must be set before ``prefect`` is imported.
"""

from __future__ import annotations

import os

OFFLINE_DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
}

for _name, _value in OFFLINE_DEFAULTS.items():
    os.environ.setdefault(_name, _value)
