"""Embedding: the kNN graph, UMAP's pieces, the neighbour and landmark terms in training, and ``aekit embed``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from aekit import TrainConfig, train
from aekit.cli import main
from aekit.models import build_model
from aekit.models.neighbors import umap_ab, umap_cross_entropy
from aekit.runs import files as ckpt
from aekit.training.neighbors import NeighborSampler, deskew, knn_graph, layout, membership, neighbor_sampler


def test_umap_ab_matches_umap_learn():
    a, b = umap_ab(0.1)  # umap.umap_.find_ab_params(1.0, 0.1) = (1.5769, 0.8951)
    assert a == pytest.approx(1.5769, abs=2e-3) and b == pytest.approx(0.8951, abs=2e-3)


def test_knn_graph_agrees_with_sklearn_and_weights_sum_to_log2_k():
    x = torch.randn(300, 20)
    idx, dist = knn_graph(x, 10)
    ref_dist, ref_idx = NearestNeighbors(n_neighbors=11).fit(x.numpy()).kneighbors(x.numpy())
    assert torch.equal(idx, torch.from_numpy(ref_idx[:, 1:]))  # itself excluded, nearest first
    assert torch.allclose(dist, torch.from_numpy(ref_dist[:, 1:]).float(), atol=1e-4)
    w = membership(dist)
    assert torch.allclose(w.sum(1), torch.full((300,), np.log2(10), dtype=torch.float32), atol=1e-3)
    assert torch.all(w[:, 0] == 1) and torch.all(w[:, :-1] >= w[:, 1:])


def test_sampler_draws_graph_neighbours_seeded_by_epoch():
    x = torch.randn(200, 8)
    s = NeighborSampler(x, k=5, seed=0)
    a, b = s.draw(0), s.draw(1)
    assert torch.equal(a, s.draw(0)) and not torch.equal(a, b)
    assert all(int(j) in s.indices[i].tolist() for i, j in enumerate(a))
    assert torch.equal(s(3)["neighbor"], x[s.draw(3)])


def test_deskew_straightens_a_slanted_stroke_and_centres_it():
    img = torch.zeros(2, 1, 28, 28)
    for r in range(6, 22):  # a stroke leaning right by 0.5 column per row, off centre
        img[0, 0, r, 6 + r // 2] = 1.0
    img[1, 0, 4:12, 20] = 1.0  # an upright stroke, off centre
    out = deskew(img)
    for im in out[:, 0]:
        rr, cc = torch.nonzero(im > 0.3, as_tuple=True)
        w = im[rr, cc]
        mr, mc = (w * rr).sum() / w.sum(), (w * cc).sum() / w.sum()
        assert abs(mr - 13.5) < 0.6 and abs(mc - 13.5) < 0.6  # centred
        assert abs(((w * (rr - mr) * (cc - mc)).sum() / w.sum()).item()) < 0.3  # no slant left
    assert torch.equal(deskew(torch.zeros(1, 1, 8, 8)), torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="images"):
        deskew(torch.zeros(3, 784))


def test_deskewed_neighbour_space_builds_the_graph_on_deskewed_images(mnist):
    x = torch.from_numpy(mnist.x_train[:300, None].astype(np.float32) / 255)
    model = build_model("dense", input_shape=(1, 28, 28), code_size=2, neighbor_weight=0.3,
                        neighbor_space="deskewed")
    s = neighbor_sampler(model, x)
    assert torch.equal(s.indices, knn_graph(deskew(x), 15)[0]) and not torch.equal(s.indices, knn_graph(x, 15)[0])
    assert torch.equal(s(0)["neighbor"], x[s.draw(0)])  # the neighbours themselves stay raw
    with pytest.raises(ValueError, match="neighbor_space"):
        build_model("dense", input_shape=(1, 28, 28), neighbor_space="tangent")
    with pytest.raises(ValueError, match="image inputs"):
        build_model("dense", input_shape=(784,), neighbor_space="deskewed")


def test_cross_entropy_rewards_close_neighbours_and_distant_strangers():
    a, b = umap_ab(0.1)
    z = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    good = umap_cross_entropy(z, z + 0.05, a, b, 5.0)
    bad = umap_cross_entropy(z, z[[1, 2, 0]], a, b, 5.0)  # "neighbours" far away, strangers on top of each other
    assert good[0] < 0.05 and good[1] < 0.2 and bad[0] > 3 and bad[1] > 3


def test_layout_separates_two_clusters():
    x = torch.cat([torch.randn(150, 10), torch.randn(150, 10) + 6])
    idx, dist = knn_graph(x, 10)
    y = layout(x, idx, membership(dist), 2, *umap_ab(0.1), epochs=100)
    labels = np.repeat([0, 1], 150)
    assert KNeighborsClassifier(5).fit(y[::2], labels[::2]).score(y[1::2], labels[1::2]) == 1.0


def _knn_accuracy(model, x_tr, y_tr, x_te, y_te) -> float:
    with torch.no_grad():
        model.eval()
        return KNeighborsClassifier(5).fit(model.encode(x_tr), y_tr).score(model.encode(x_te), y_te)


def test_neighbour_terms_beat_a_plain_autoencoder_in_2d(mnist):
    """On 2,000 real digits, the 2-D code of the same dense model separates classes far better with the terms."""
    x = torch.from_numpy(mnist.x_train[:2500, None].astype(np.float32) / 255)
    y = mnist.y_train[:2500]
    cfg = TrainConfig(epochs=8, batch_size=128, lr=3e-3, schedule="cosine", eps=1e-8, device="cpu")
    acc = {}
    for name, extra in (("plain", {}), ("neighbors", {"neighbor_weight": 0.3, "landmark_weight": 0.2})):
        torch.manual_seed(0)
        model = build_model("dense", input_shape=(1, 28, 28), hidden=(128,), code_size=2,
                            code_activation="identity", **extra)
        result = train(model, x[:2000], cfg, progress=False)
        acc[name] = _knn_accuracy(model, x[:2000], y[:2000], x[2000:], y[2000:])
    assert {"attraction", "repulsion", "landmark_dist"} <= {k[6:] for k in result.history[-1]}
    assert acc["neighbors"] > acc["plain"] + 0.1, acc
    assert acc["neighbors"] > 0.5, acc  # measured: plain 0.34, with the terms 0.62


# --- aekit embed ---------------------------------------------------------------------------------------------
FAST = ["--epochs", "1", "--batch-size", "64", "--no-progress", "--no-eval"]


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def run2d(mnist_npz, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "map"
    assert main(["train", "--data", str(mnist_npz), "--out", str(run), "--model", "dense", "--code-size", "2",
                 "--set", "neighbor_weight=0.3", "--set", "landmark_weight=0.2", "--set", "code_activation=identity",
                 *FAST]) == 0
    return run


def test_embed_writes_codes_ids_labels_and_map_for_every_sample_of_a_file(run2d, mnist, tmp_path, capsys):
    out, fig = tmp_path / "codes.npy", tmp_path / "map.png"
    assert main(["embed", str(run2d), "--out", str(out), "--figure", str(fig)]) == 0
    printed = capsys.readouterr().out
    assert "1280 codes of size 2" in printed and "kNN-5 accuracy of the labels" in printed  # the whole .npz
    codes, labels, ids = (np.load(tmp_path / f"codes{part}.npy") for part in ("", ".labels", ".ids"))
    assert codes.shape == (1280, 2) and codes.dtype == np.float32 and np.isfinite(codes).all()
    assert np.array_equal(labels, np.r_[mnist.y_train[:1024], mnist.y_test[:256]])
    assert list(ids[[0, 1023, 1024, 1279]]) == ["train[0]", "train[1023]", "test[0]", "test[255]"]
    model, _ = ckpt.load_model(run2d)
    with torch.no_grad():
        first = model.encode(torch.from_numpy(mnist.x_test[:4, None].astype(np.float32) / 255))
    assert np.allclose(codes[1024:1028], first.numpy(), atol=1e-5)
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and fig.stat().st_size > 10_000
    assert main(["embed", str(run2d), "--out", str(out)]) == 1  # nothing overwritten without --force
    assert "--force" in _err_line(capsys)
    assert main(["embed", str(run2d), "--out", str(out), "--force", "--split", "train"]) == 1
    assert "--split chooses a split of a named dataset" in _err_line(capsys)  # a file is read whole


def test_embed_npz_and_wide_codes_drawn_by_pca(mnist_npz, tmp_path, capsys):
    run = tmp_path / "wide"
    assert main(["train", "--data", str(mnist_npz), "--out", str(run), *FAST]) == 0
    out = tmp_path / "codes.npz"
    assert main(["embed", str(run), "--out", str(out), "--figure", str(tmp_path / "m.png")]) == 0
    with np.load(out) as d:
        assert d["codes"].shape == (1280, 32) and d["labels"].shape == (1280,) and d["ids"][-1] == "test[255]"


def test_embed_of_a_named_dataset_encodes_the_split_asked_for(tmp_path, capsys):
    from aekit.data import load_dataset

    digits = load_dataset("digits")
    run = tmp_path / "digits"
    assert main(["train", "--dataset", "digits", "--model", "dense", "--code-size", "4", "--out", str(run), *FAST]) == 0
    for argv, want in (([], digits.y_test), (["--split", "train"], digits.y_train)):
        out = tmp_path / "codes.csv"
        assert main(["embed", str(run), "--out", str(out), "--force", *argv]) == 0
        assert f"{len(want)} codes of size 4 (digits ({(argv or ['', 'test'])[1]} split))" in capsys.readouterr().out
        rows = out.read_text().splitlines()
        assert rows[0] == "id,label,code_1,code_2,code_3,code_4" and len(rows) == len(want) + 1
        assert [r.split(",")[:2] for r in rows[1:3]] == [["0", str(want[0])], ["1", str(want[1])]]


@pytest.mark.parametrize("argv, message", [
    (["--out", "codes.txt"], ".npy, .npz or .csv"),
    (["--out", "c.npy", "--data", "no/such/file.npz"], "no/such/file.npz"),
])
def test_embed_errors_are_one_line(run2d, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["embed", str(run2d), *argv]) == 1
    assert message in _err_line(capsys)


def test_embed_of_a_missing_run_is_one_line(tmp_path, capsys):
    assert main(["embed", str(tmp_path / "nope"), "--out", str(tmp_path / "c.npy")]) == 1
    assert "nope" in _err_line(capsys)


def test_embed_of_an_image_folder_encodes_every_image_by_its_file_name(mnist, tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "imgs"
    for i in range(13):  # 13 images: a 10 % test split of them would be one
        sub = folder / ("odd" if mnist.y_test[i] % 2 else "even")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mnist.x_test[i]).save(sub / f"d{i:02d}.png")
    run = tmp_path / "run"
    assert main(["train", "--data", str(folder), "--model", "dense", "--code-size", "4", "--out", str(run), *FAST]) == 0
    out = tmp_path / "codes.npz"
    assert main(["embed", str(run), "--data", str(folder), "--out", str(out)]) == 0
    assert f"13 codes of size 4 (all 13 images in {folder})" in capsys.readouterr().out
    with np.load(out) as d:
        names = sorted(f"{'odd' if mnist.y_test[i] % 2 else 'even'}/d{i:02d}.png" for i in range(13))
        assert d["codes"].shape == (13, 4) and d["ids"].tolist() == names
        assert d["labels"].tolist() == [n.split("/")[0] for n in names]
