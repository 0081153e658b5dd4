"""``aekit embed``: the codes of a dataset split as an array, and a 2-D map of them coloured by label."""

from __future__ import annotations

from aekit.cli.common import Formatter, add_output


def add_arguments(sub) -> None:
    emb = sub.add_parser("embed", help="codes of a dataset split as an array, and a 2-D map coloured by label",
                         formatter_class=Formatter,
                         description="Writes the codes to --out (.npy, plus OUT.labels.npy when the data has labels; "
                         "or .npz with arrays 'codes' and 'labels'). The map draws 2-D codes as they are and the "
                         "first two principal components of wider codes (its title says which).")
    emb.add_argument("run", metavar="RUN")
    add_output(emb, "replace existing files", metavar="CODES.npy", required=True,
               help="codes file to write (.npy or .npz)")
    emb.add_argument("--data", metavar="PATH", help="data to encode instead of the run's own dataset")
    emb.add_argument("--split", default="test", choices=["train", "test"], help="which split to encode")
    emb.add_argument("--figure", metavar="PNG", help="also draw the 2-D map of the codes, coloured by label")
    emb.set_defaults(handler=run)


def run(a) -> int:
    from aekit.apps.embed import embed_run

    files, codes = embed_run(a.run, a.out, data=a.data, split=a.split, figure=a.figure, force=a.force)
    print(f"{codes.shape[0]} codes of size {codes.shape[1]}: " + ", ".join(str(f) for f in files))
    return 0
