"""``aekit anomalies``: rank inputs by how anomalous a run's model finds them."""

from __future__ import annotations

import json

from aekit.cli.common import Formatter, add_output


def add_arguments(sub) -> None:
    an = sub.add_parser("anomalies", help="rank inputs by how anomalous the run's model finds them",
                        formatter_class=Formatter)
    an.add_argument("run", metavar="RUN")
    an.add_argument("data", metavar="DATA", help="a file or folder, all of it scored (a folder of images, each named "
                    "by its file name; a .csv, each row named by the run's id column or its row number, read as the "
                    "run read its training table; a .npy/.npz array or IDX file), or a dataset name (its test split "
                    "is scored). A run trained on --patches scores whole images of any size, each by its worst tile")
    an.add_argument("-k", "--top", type=int, default=10, help="how many of the most anomalous inputs to list")
    add_output(an, "replace an existing figure", metavar="PNG",
               help="also draw the most anomalous inputs into this figure")
    an.add_argument("--json", action="store_true", help="print one JSON object")
    an.set_defaults(handler=run)


def run(a) -> int:
    from aekit.apps.anomaly import anomalies_run

    report = anomalies_run(a.run, a.data, top=a.top, out=a.out, force=a.force)
    if a.json:
        print(json.dumps(report))
        return 0
    score = report["score"] + (f", each image {report['image_score']}" if "image_score" in report else "")
    print(f"{report['n_scored']} inputs from {report['data']}; most anomalous first (score: {score}):")
    for row in report["top"]:
        where = f"  worst tile at y={row['worst_tile'][0]}, x={row['worst_tile'][1]}" if "worst_tile" in row else ""
        print(f"{row['rank']:>4}  {row['input']:<40}  {row['score']:.6g}{where}")
    if report.get("by_label"):
        print("by label, AUROC of the score for telling it from the rest: " + ", ".join(
            f"{label} {v['auroc']:.3f} (n={v['n']})" for label, v in report["by_label"].items()))
    if report.get("figure"):
        print(f"figure: {report['figure']}")
    return 0
