"""A user's own CSV table: label and id columns, categories, missing cells, recorded in the run and read the same way by
every command; per-column errors instead of PSNR; every row embedded and scored, by its id; the wide-code warning."""

from __future__ import annotations

import csv
import json
import logging

import numpy as np
import pytest

from aekit.cli import main
from aekit.data import load_dataset
from aekit.data.csvfile import read_table
from aekit.data.dataset import split_indices
from aekit.data.table import TableSchema
from aekit.errors import AekitError
from aekit.runs import Run

FAST = ["--epochs", "2", "--batch-size", "64", "--no-progress"]


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("aekit: error:") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def cancer():
    """scikit-learn's breast-cancer table (bundled with it): 569 rows, 30 features, target 0/1."""
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer()


@pytest.fixture(scope="module")
def cancer_csv(cancer, tmp_path_factory):
    """The table as a new user saves it: the 30 feature columns and its `target` column."""
    rows = [[repr(float(v)) for v in row] + [int(t)] for row, t in zip(cancer.data, cancer.target)]
    return _write_csv(tmp_path_factory.mktemp("bc") / "bc.csv", [*cancer.feature_names, "target"], rows)


@pytest.fixture(scope="module")
def cancer_run(cancer_csv, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "bc"
    assert main(["train", "--data", str(cancer_csv), "--label-column", "target", "--code-size", "8", "--out",
                 str(run), *FAST]) == 0
    return run


@pytest.fixture
def pets(tmp_path):
    """A table with an id, a category, missing cells (empty, NA, NAN) and a text label."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(60):
        kind = "cat" if i % 2 else "dog"
        height = rng.normal(30 if kind == "cat" else 60, 5)
        rows.append([f"pet{i}", f"{height:.2f}", f"{height * 0.4:.2f}", ["black", "white", "ginger"][i % 3], kind])
    rows[7][2], rows[11][1], rows[13][3], rows[20][1] = "", "NA", "", "NAN"
    return _write_csv(tmp_path / "pets.csv", ["id", "height", "weight", "colour", "kind"], rows)


# --- reading a table -------------------------------------------------------------------------------------------


def test_the_label_and_id_columns_are_not_features(cancer, cancer_csv):
    plain = load_dataset(str(cancer_csv))
    assert plain.x_train.shape[1] == 31  # without a label column, target is one more feature
    ds = load_dataset(str(cancer_csv), label_column="target")
    assert ds.x_train.shape == (512, 30) and ds.x_test.shape == (57, 30)
    train, test = split_indices(569, 0.1, 0)
    assert np.array_equal(ds.y_train, cancer.target[train]) and np.array_equal(ds.y_test, cancer.target[test])
    assert np.allclose(ds.x_test, cancer.data[test])
    assert ds.table.label == "target" and ds.table.feature_names() == list(cancer.feature_names)
    assert np.array_equal(ds.x_train, plain.x_train[:, :30])  # the same rows, in the same split


def test_categories_are_one_hot_and_missing_cells_take_the_training_rows_mean_or_mode(pets, caplog):
    with caplog.at_level(logging.WARNING):
        ds = load_dataset(str(pets), label_column="kind", id_column="id")
    assert ds.table.feature_names() == ["height", "weight", "colour=black", "colour=ginger", "colour=white"]
    assert "4 missing cells filled" in caplog.text and "(height: 2, weight: 1, colour: 1)" in caplog.text
    raw = read_table(pets)
    train, _ = split_indices(60, 0.1, 0)  # the split load_dataset made
    heights = np.array([float(raw.columns[1][i]) for i in train if raw.columns[1][i] not in ("NA", "NAN")])
    fill = {c.name: c.fill for c in ds.table.features}
    assert fill["height"] == pytest.approx(heights.mean()) and fill["colour"] in ("black", "ginger", "white")
    x = np.r_[ds.x_train, ds.x_test]
    assert np.isfinite(x).all() and set(np.unique(x[:, 2:])) == {0.0, 1.0} and (x[:, 2:].sum(1) == 1).all()
    assert ds.table.label_classes == ("cat", "dog") and set(np.r_[ds.y_train, ds.y_test]) == {0, 1}


def test_a_schema_reads_another_file_by_name_and_warns_of_unseen_categories(pets, tmp_path, caplog):
    schema = load_dataset(str(pets), label_column="kind", id_column="id").table
    again = TableSchema.from_dict(json.loads(json.dumps(schema.to_dict())), "kind", "id")
    assert again == schema
    new = _write_csv(tmp_path / "new.csv", ["kind", "colour", "height", "weight", "id", "notes"],
                     [["cat", "purple", "31", "12", "a", "x"], ["dog", "black", "", "25", "b", "y"]])
    with caplog.at_level(logging.WARNING):
        rows = again.encode(read_table(new))
    assert "colour: 'purple'" in caplog.text and "1 missing cell filled" in caplog.text
    assert list(rows.ids) == ["a", "b"] and list(rows.labels) == ["cat", "dog"]
    assert rows.x[0, 2:].tolist() == [0, 0, 0] and rows.x[1, 2:].tolist() == [1, 0, 0]  # purple: none of them
    assert rows.x[0, 0] == 31 and rows.x[1, 0] == pytest.approx(schema.features[0].fill)
    _write_csv(tmp_path / "short.csv", ["height", "colour"], [["1", "black"]])
    with pytest.raises(AekitError, match="has no column weight, which the run was trained on"):
        again.encode(read_table(tmp_path / "short.csv"))


@pytest.mark.parametrize("text, message", [
    ("a,b\n1,2\n3,oops\n", "text 'oops' at row 3, column 2 ('b'), in a column of numbers"),
    ("a,b\n1,2\n3,4\n", "`label_column` 'c' is not a column of"),
    ("a,b\n1,x\n3,\n", "the label is missing at row 3, column 2"),
    ("a,b\n1,1.5\n3,2\n", "label '1.5' at row 2, column 2 ('b') is not a whole number"),
])
def test_bad_tables_are_one_clear_error(tmp_path, text, message):
    (tmp_path / "t.csv").write_text(text)
    label = "c" if "label_column" in message else "b" if "label" in message else None
    with pytest.raises(AekitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(str(tmp_path / "t.csv"), label_column=label)


def test_free_text_is_not_a_category_and_a_row_counter_is_pointed_out(tmp_path, caplog):
    rows = [[i, f"name {i}", i % 3] for i in range(150)]
    _write_csv(tmp_path / "t.csv", ["n", "name", "v"], rows)
    with pytest.raises(AekitError, match="'name' holds 135 different texts.*give it as `id_column`"):
        load_dataset(str(tmp_path / "t.csv"))
    with caplog.at_level(logging.WARNING):
        ds = load_dataset(str(tmp_path / "t.csv"), id_column="name")
    assert ds.x_train.shape[1] == 2 and "column 'n' counts the rows (0, 1, 2, ...)" in caplog.text


def test_a_column_named_like_a_label_is_pointed_out_unless_it_is_the_label(cancer_csv, caplog):
    with caplog.at_level(logging.WARNING):
        ds = load_dataset(str(cancer_csv))
    assert ds.x_train.shape[1] == 31 and "column 'target' is named like a label" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        load_dataset(str(cancer_csv), label_column="target")
    assert "named like a label" not in caplog.text


def test_a_file_without_a_header_names_its_columns_by_number(tmp_path):
    (tmp_path / "t.csv").write_text("".join(f"{i},{i % 2},{i * 2}\n" for i in range(20)))
    ds = load_dataset(str(tmp_path / "t.csv"), label_column="2")
    assert ds.table.feature_names() == ["1", "3"] and not ds.table.header and set(ds.y_train) == {0, 1}


def test_label_columns_belong_to_csv_files(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 3), np.float32))
    with pytest.raises(AekitError, match="`label_column` and `id_column` name columns of a CSV table"):
        load_dataset(str(tmp_path / "x.npy"), label_column="a")


# --- a run on a table -------------------------------------------------------------------------------------------


def test_the_run_records_its_columns_and_reports_each_columns_error_not_psnr(cancer, cancer_run, capsys):
    data = json.loads((cancer_run / "config.json").read_text())["data"]
    assert data["label_column"] == "target" and len(data["columns"]["features"]) == 30
    assert json.loads((cancer_run / "config.json").read_text())["config"]["input_shape"] == [30]
    metrics = json.loads((cancer_run / "eval.json").read_text())
    assert "test_psnr" not in metrics and list(metrics["test_mse_by_column"]) == list(cancer.feature_names)
    assert np.mean(list(metrics["test_mse_by_column"].values())) == pytest.approx(metrics["test_mse"], rel=1e-6)
    assert np.mean(list(metrics["pca_mse_by_column"].values())) == pytest.approx(metrics["pca_mse"], rel=1e-5)
    assert main(["eval", str(cancer_run)]) == 0
    out = capsys.readouterr().out
    assert "psnr" not in out and "test MSE by column (PCA-8 beside it):" in out and "worst concavity" in out
    figure = cancer_run / "reconstructions.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(figure) as im:
        assert im.height > im.width  # one bar per column, not a row of digit images


def test_embed_and_anomalies_read_every_row_with_the_runs_label(cancer, cancer_run, cancer_csv, tmp_path, capsys):
    out = tmp_path / "codes.csv"
    assert main(["embed", str(cancer_run), "--out", str(out), "--figure", str(tmp_path / "map.png")]) == 0
    printed = capsys.readouterr().out
    assert f"569 codes of size 8 (all 569 rows of {cancer_csv})" in printed and "kNN-5 accuracy" in printed
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["id", "label", "code_1"] and len(rows) == 570
    assert [r[0] for r in rows[1:]] == [str(i) for i in range(569)]
    assert [int(r[1]) for r in rows[1:]] == cancer.target.tolist()
    assert main(["embed", str(cancer_run), "--out", str(out), "--force", "--split", "test"]) == 1
    assert "--split chooses a split of a named dataset" in _err_line(capsys)
    assert main(["anomalies", str(cancer_run), str(cancer_csv), "--json", "-k", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_scored"] == 569 and set(report["by_label"]) == {"0", "1"}
    assert report["by_label"]["0"]["auroc"] == pytest.approx(1 - report["by_label"]["1"]["auroc"])


def test_a_csv_missing_a_trained_column_is_one_error_line_for_every_command(cancer_run, cancer_csv, tmp_path, capsys):
    table = read_table(cancer_csv)
    keep = [j for j, name in enumerate(table.names) if name != "mean area"]
    short = _write_csv(tmp_path / "short.csv", [table.names[j] for j in keep],
                       [[table.columns[j][i] for j in keep] for i in range(table.n_rows)])
    for argv in (["eval", str(cancer_run), "--data", str(short)],
                 ["embed", str(cancer_run), "--data", str(short), "--out", str(tmp_path / "c.npy")],
                 ["anomalies", str(cancer_run), str(short)],
                 ["reconstruct", str(cancer_run), "--data", str(short), "--out", str(tmp_path / "r.png")]):
        assert main(argv) == 1
        assert "has no column mean area, which the run was trained on" in _err_line(capsys)


def test_ids_categories_and_missing_cells_through_the_cli(pets, tmp_path, capsys, caplog):
    run = tmp_path / "pets"
    with caplog.at_level(logging.WARNING):
        assert main(["train", "--data", str(pets), "--label-column", "kind", "--id-column", "id", "--code-size", "2",
                     "--hidden", "8", "--out", str(run), *FAST]) == 0
    assert caplog.text.count("missing cells filled") == 1  # read once, for training and the evaluation after it
    assert Run.open(run).config.data.table().feature_names()[2:] == ["colour=black", "colour=ginger", "colour=white"]
    out = tmp_path / "codes.npz"
    assert main(["embed", str(run), "--out", str(out)]) == 0
    with np.load(out) as d:
        assert d["codes"].shape == (60, 2) and d["ids"][0] == "pet0" and d["labels"][:2].tolist() == ["dog", "cat"]
    capsys.readouterr()
    assert main(["anomalies", str(run), str(pets), "-k", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["top"][0]["input"].startswith("pet") and report["top"][0]["label"] in ("cat", "dog")


def test_fine_tuning_reads_the_new_table_through_the_runs_columns(pets, tmp_path, capsys):
    run, tuned = tmp_path / "pets", tmp_path / "tuned"
    assert main(["train", "--data", str(pets), "--label-column", "kind", "--id-column", "id", "--code-size", "2",
                 "--hidden", "8", "--out", str(run), "--no-eval", *FAST]) == 0
    more = _write_csv(tmp_path / "more.csv", ["colour", "id", "weight", "height", "kind"],  # other order, no ginger
                      [["white", f"n{i}", f"{20 + i}", f"{50 + i}", "dog"] for i in range(12)])
    assert main(["train", "--data", str(more), "--init", str(run), "--out", str(tuned), "--no-eval", *FAST]) == 0
    before, after = (json.loads((r / "config.json").read_text())["data"] for r in (run, tuned))
    assert after["columns"] == before["columns"] and after["id_column"] == "id" and after["label_column"] == "kind"


def test_a_damaged_columns_entry_is_one_error_line(cancer_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(cancer_run, run)
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"]["columns"]["features"][0]["fill"] = "x"
    (run / "config.json").write_text(json.dumps(cfg))
    assert main(["eval", str(run)]) == 1
    assert "table columns" in _err_line(capsys)


# --- the code as wide as the data ------------------------------------------------------------------------------


def test_a_code_as_wide_as_the_data_is_one_warning_line(cancer_csv, tmp_path, caplog):
    def warned(*argv) -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert main(["train", *argv, "--out", str(tmp_path / str(len(argv))), "--epochs", "1", "--no-progress",
                         "--no-eval", "--force"]) == 0
        return [r.getMessage() for r in caplog.records if "as wide as the data" in r.getMessage()]

    assert warned("--data", str(cancer_csv), "--label-column", "target") == [  # the preset's code: narrowed
        "the preset's code of 32 numbers is as wide as the data (30 columns): using a code of 7 (a quarter); set "
        "--code-size to choose"]
    assert warned("--data", str(cancer_csv), "--label-column", "target", "--code-size", "32") == [  # the user's
        "warning: the code (32 numbers) is as wide as the data (30 columns): the model can copy its input instead "
        "of learning a compressed code; choose a --code-size below 30"]
    np.save(tmp_path / "img.npy", np.random.default_rng(0).integers(0, 256, (40, 4, 4), dtype=np.uint8))
    assert "(16 values per image)" in warned("--data", str(tmp_path / "img.npy"), "--model", "dense", "--code-size",
                                               "16")[0]
    assert warned("--data", str(cancer_csv), "--label-column", "target", "--code-size", "8") == []
