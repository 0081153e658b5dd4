"""``aekit embed``: the codes of every sample of a file or folder (or of a named dataset's split), each beside its
id, and a 2-D map of them coloured by label."""

from __future__ import annotations

from aekit.cli.common import Formatter, add_output


def add_arguments(sub) -> None:
    emb = sub.add_parser("embed", help="codes of every sample of a file or folder (or of a named dataset's split), "
                         "and a 2-D map coloured by label", formatter_class=Formatter,
                         description="Encodes every image or row of --data (default: the run's own data) when it is "
                         "a file or folder, or one --split of a named dataset, and writes the codes to --out, each "
                         "beside its id: the row number, a CSV's id column (the run's --id-column) or the image's "
                         "file name. OUT.csv: columns id, label (when the data has labels), code_1 ... code_k; OUT.npz: "
                         "arrays 'codes', 'ids' and 'labels'; OUT.npy: the codes, with OUT.ids.npy and "
                         "OUT.labels.npy beside it. With labels (a CSV's label column, class subfolders, an array "
                         "file's labels) it prints how well a kNN-5 classifier tells the labels from the codes "
                         "(5-fold cross-validated), and from the inputs themselves. The map draws 2-D codes as they "
                         "are and the first two principal components of wider codes (its title says which). A run "
                         "trained on --patches gives one code per whole image of any size: the mean of the codes of "
                         "its tiles (no overlap).")
    emb.add_argument("run", metavar="RUN")
    add_output(emb, "replace existing files", metavar="CODES.npy", required=True,
               help="codes file to write (.npy, .npz or .csv)")
    emb.add_argument("--data", metavar="PATH", help="data to encode instead of the run's own: a dataset name, or a "
                     "file or folder (all of it)")
    emb.add_argument("--split", choices=["train", "test"], help="a named dataset's split to encode (default: test); "
                     "files and folders are encoded whole")
    emb.add_argument("--figure", metavar="PNG", help="also draw the 2-D map of the codes, coloured by label")
    emb.set_defaults(handler=run)


def run(a) -> int:
    from aekit.apps.embed import embed_run

    result = embed_run(a.run, a.out, data=a.data, split=a.split, figure=a.figure, force=a.force)
    codes = result.codes
    print(f"{codes.shape[0]} codes of size {codes.shape[1]} ({result.source}): " + ", ".join(map(str, result.files)))
    if result.knn:
        inputs = result.knn["inputs"]
        print(f"kNN-{result.knn['k']} accuracy of the labels ({result.knn['folds']}-fold cross-validated): from the "
              f"codes {result.knn['codes']:.3f}, from the inputs " + ("-" if inputs is None else f"{inputs:.3f}"))
    return 0
