"""``aekit inspect``: the provenance mark aekit puts in every synthetic file."""

from __future__ import annotations

import json

from aekit.cli.common import Formatter


def add_arguments(sub) -> None:
    ins = sub.add_parser("inspect", help="show the provenance mark aekit puts in every synthetic file",
                         formatter_class=Formatter)
    ins.add_argument("files", metavar="FILE", nargs="+")
    ins.set_defaults(handler=run)


def run(a) -> int:
    from aekit.runs.provenance import read_mark

    unmarked = 0
    for f in a.files:
        mark = read_mark(f)
        unmarked += mark is None
        print(f"{f}: {json.dumps(mark, sort_keys=True) if mark else 'no aekit provenance mark'}")
    return 0 if not unmarked else 3
