"""``aekit info``: what a run folder holds."""

from __future__ import annotations

import json

from aekit.cli.common import Formatter


def add_arguments(sub) -> None:
    i = sub.add_parser("info", help="what a run folder holds", formatter_class=Formatter)
    i.add_argument("run", metavar="RUN")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(handler=run)


def run(a) -> int:
    from aekit.runs.info import run_info

    info = run_info(a.run)
    if a.json:
        print(json.dumps(info))
    else:
        for k, v in info.items():
            print(f"{k:>14}: {json.dumps(v) if isinstance(v, (dict, list)) else v}")
    faults = [info["weights"], info.get("checkpoint", "")]
    return 1 if any(f.startswith("unusable") for f in faults) else 0  # described in full, and a script sees the fault
