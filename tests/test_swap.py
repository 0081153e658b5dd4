"""The swap model (shared encoder, one decoder per domain), its training, the swap CLI and its marked outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from aekit import TrainConfig, storage, train
from aekit.cli import main
from aekit.errors import AekitError
from aekit.models import build_model
from aekit.runs import files as ckpt
from aekit.runs.provenance import read_mark

TINY = {"channels": (8, 16), "blocks_per_stage": 1, "code_size": 8}
CLI_TINY = ["--set", "channels=[8,16]", "--set", "blocks_per_stage=1", "--code-size", "8", "--no-progress"]


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return build_model("swap", {"input_shape": (1, 28, 28), **TINY, **kw})


@pytest.fixture(scope="module")
def domain_files(mnist, tmp_path_factory):
    """Two small real domains as .npz: 192 MNIST digits, and 192 of scikit-learn's 8x8 digits resized to 28x28."""
    from aekit.data import load_dataset

    folder = tmp_path_factory.mktemp("domains")
    digits = load_dataset("digits", image_size=(28, 28))
    np.savez(folder / "a.npz", x_train=mnist.x_train[:192], x_test=mnist.x_test[:32])
    np.savez(folder / "b.npz", x_train=digits.x_train[:192], x_test=digits.x_test[:32])
    return folder / "a.npz", folder / "b.npz"


@pytest.fixture(scope="module")
def swap_run(domain_files, tmp_path_factory):
    run = tmp_path_factory.mktemp("swaprun") / "run"
    a, b = domain_files
    assert main(["swap-train", "--domain", f"a={a}", "--domain", f"b={b}", "--out", str(run), "--epochs", "1",
                 "--adversarial", "0.05", "--warp", "0.1", "--recolour", "0.5", "--edges", "0.25", "--thicken", "0.2",
                 *CLI_TINY]) == 0
    return run


def test_each_sample_is_decoded_by_its_own_domain():
    model = _model(domains=("a", "b", "c")).eval()
    x = torch.rand(6, 1, 28, 28)
    domain = torch.tensor([2, 0, 1, 1, 0, 2])
    out = model(x, domain=domain)
    assert out["x_hat"].shape == x.shape and out["z"].shape == (6, 8)
    z = model.encode(x)
    for i, d in enumerate(domain.tolist()):
        assert torch.allclose(out["x_hat"][i], model.decode(z[i : i + 1], d)[0], atol=1e-6)
    assert torch.equal(model.decode(z, "b"), model.decode(z, 1))
    assert torch.equal(model(x)["x_hat"], model.decode(z, "a"))  # no domain: the first one (the contract's default)
    assert torch.equal(model.swap(x, "c"), model.decode(z, 2))
    with pytest.raises(ValueError, match="unknown domain"):
        model.decode(z, "d")
    with pytest.raises(ValueError):
        model(x, domain=torch.tensor([0, 1, 2, 3, 0, 0]))
    with pytest.raises(ValueError, match="two or more"):
        build_model("swap", input_shape=(1, 28, 28), domains=("a",))


def test_gradients_reach_only_the_decoders_of_the_batch():
    model = _model(domains=("a", "b", "c"))
    x = torch.rand(4, 1, 28, 28)
    out = model(x, domain=torch.tensor([0, 2, 0, 2]))
    model.loss(x, out)["loss"].backward()
    grads = [sum(float(p.grad.abs().sum()) for p in d.parameters() if p.grad is not None) for d in model.decoders]
    assert grads[0] > 0 and grads[2] > 0 and grads[1] == 0


def test_warp_only_in_training_and_target_stays_clean(small_x):
    model = _model(warp=0.3)
    seen = []
    encode = model.encode
    model.encode = lambda x: (seen.append(x.clone()), encode(x))[1]
    x = small_x[:8]
    torch.manual_seed(1)
    out = model(x)
    torch.manual_seed(1)
    model(x)
    assert not torch.equal(seen[0], x) and torch.equal(seen[0], seen[1])  # warped, reproducibly from the seed
    assert torch.equal(model.loss(x, out)["loss"], model.loss(x, out, target=x)["loss"])  # the clean image
    model.eval()
    model(x)
    assert torch.equal(seen[-1], x)  # evaluation never warps


def encoder_inputs(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What the swap model's encoder is given for x in a training pass, then in an evaluation pass."""
    seen = []
    encode = model.encode
    model.encode = lambda z: (seen.append(z.clone()), encode(z))[1]
    model.train()
    model(x)
    model.eval()
    model(x)
    return seen[0], seen[-1]


def test_recolour_shuffles_channels_and_inverts_some_encoder_inputs_only_in_training():
    from aekit.models.swap import random_recolour

    torch.manual_seed(0)
    x = torch.rand(64, 3, 6, 6)
    assert torch.equal(random_recolour(x, 0.0), x)
    torch.manual_seed(1)
    out = random_recolour(x, 1.0)
    perms = [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
    kinds = []
    for i in range(len(x)):  # every image is a channel permutation of its source, inverted or not
        kind = [(p, inv) for p in perms for inv in (0, 1)
                if torch.allclose(out[i], (1 - x[i, list(p)]) if inv else x[i, list(p)])]
        assert len(kind) == 1
        kinds.append(kind[0])
    assert 10 < sum(inv for _, inv in kinds) < 54 and len({p for p, _ in kinds}) == 6
    torch.manual_seed(1)
    assert torch.equal(random_recolour(x, 1.0), out)  # reproducible from the seed
    grey = torch.rand(16, 1, 28, 28)
    trained, evaluated = encoder_inputs(_model(recolour=1.0), grey)
    assert any(torch.allclose(trained[i], 1 - grey[i]) for i in range(16))  # a grey image can only be inverted
    assert torch.equal(evaluated, grey)
    with pytest.raises(ValueError, match="recolour"):
        _model(recolour=1.5)


def a_share_only_in_training(augment, field: str, image: torch.Tensor) -> None:
    """A stroke augmentation alters about its share of the images, reaches the encoder only in training, and its
    config field refuses a share outside [0, 1]."""
    torch.manual_seed(2)
    half = augment(image[None].expand(64, *image.shape), 0.5)
    assert 16 < sum(not torch.equal(im, image) for im in half) < 48
    grey = torch.rand(4, 1, 28, 28)
    trained, evaluated = encoder_inputs(_model(**{field: 1.0}), grey)
    assert torch.equal(trained, augment(grey, 1.0)) and torch.equal(evaluated, grey)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=field):
            _model(**{field: bad})


def test_edges_show_the_encoder_some_strokes_as_their_outlines_only_in_training():
    from aekit.models.swap import random_edges

    stroke = torch.zeros(8, 1, 9, 9)
    stroke[:, :, 2:7, 3:6] = 1.0  # a solid bar 3 pixels wide
    assert torch.equal(random_edges(stroke, 0.0), stroke)
    out = random_edges(stroke, 1.0)
    assert torch.equal(out[:, :, 4, 4], torch.zeros(8, 1))  # the inside of the stroke is hollow
    assert torch.equal(out[:, :, 4, 2], torch.ones(8, 1)) and torch.equal(out[:, :, 4, 3], torch.ones(8, 1))
    assert torch.equal(out[:, :, 0, 0], torch.zeros(8, 1))  # far from the stroke: nothing
    a_share_only_in_training(random_edges, "edges", stroke[0])


def test_thicken_spreads_the_ink_of_some_encoder_inputs_on_either_ground_only_in_training():
    from aekit.models.swap import random_thicken

    bar = torch.zeros(8, 3, 9, 9)
    bar[:, :, 2:7, 4] = 1.0  # a bright bar 1 pixel wide on a dark ground
    assert torch.equal(random_thicken(bar, 0.0), bar)
    out = random_thicken(bar, 1.0)
    assert torch.equal(out[:, :, 4, 3:6], torch.ones(8, 3, 3))  # 3 pixels wide now
    assert torch.equal(out[:, :, 4, :3], torch.zeros(8, 3, 3))  # the ground beyond stays
    paper = 1 - bar  # dark ink on a light ground: the ink spreads, the ground does not
    assert torch.equal(random_thicken(paper, 1.0), 1 - out)
    a_share_only_in_training(random_thicken, "thicken", bar[0])


def test_balanced_batches_reach_the_model_and_each_decoder_learns_its_domain(small_x):
    a = small_x[:96]
    b = 1 - small_x[96:128]  # a second domain: 32 inverted digits
    x, ids = torch.cat([a, b]), torch.cat([torch.zeros(96), torch.ones(32)]).long()
    model = _model()

    def own_errors():
        with torch.no_grad():
            device = next(model.parameters()).device  # after training, where "auto" put it
            return [float(((model.decode(model.encode(v.to(device)), i) - v.to(device)) ** 2).mean())
                    for i, v in ((0, a), (1, b))]

    before = own_errors()
    seen = []
    forward = model.forward
    model.forward = lambda xb, domain=None: (seen.append(domain.clone()), forward(xb, domain=domain))[1]
    train(model, x, TrainConfig(epochs=5, batch_size=16, lr=3e-3, balance="domain"), progress=False,
          side={"domain": ids})
    assert len(seen) == 40 and all(int(d.sum()) * 2 == len(d) for d in seen)  # half a, half b, despite 3:1 sizes
    model.forward = forward
    after = own_errors()
    with torch.no_grad():
        crossed = float(((model.decode(model.encode(b), 0) - b) ** 2).mean())
    assert after[0] < 0.5 * before[0] and after[1] < 0.5 * before[1]
    assert crossed > 3 * after[1]  # decoder a renders codes in its own style: it does not draw inverted digits


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "a b", "x" * 65, 3])
def test_a_domain_name_cannot_be_a_path(name, tmp_path):
    with pytest.raises(ValueError, match="domain name"):
        _model(domains=("a", name))
    model = _model(domains=("a", "b"))
    cfg = ckpt.run_config(model, {"normalizer": None})
    ckpt.save_model(tmp_path, model, {**cfg, "config": {**cfg["config"], "domains": ["a", name]}})
    with pytest.raises(AekitError):  # a hand-edited config.json: refused at load, before any file is named by it
        ckpt.load_model(tmp_path)


def test_save_load_gives_identical_swaps(tmp_path):
    model = _model(domains=("x", "y")).eval()
    ckpt.save_model(tmp_path, model, ckpt.run_config(model, {"normalizer": None}))
    loaded, cfg = ckpt.load_model(tmp_path)
    assert cfg["config"]["domains"] == ["x", "y"] and loaded.config == model.config
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(model.swap(x, "y"), loaded.swap(x, "y"))


def test_per_domain_critic_is_conditioned_and_sees_the_swaps(small_x):
    from aekit.training.adversarial import Adversary

    model = _model()
    x, ids = small_x[:8], torch.tensor([0, 1] * 4)
    out = model(x, domain=ids)
    pair = model.critic_pairs(x, out, domain=ids)
    assert pair["fake"].shape == (16, 1, 28, 28) and torch.equal(pair["real_cond"], ids)
    assert torch.equal(pair["fake_cond"][8:], 1 - ids)  # each code also rendered as the other domain
    adv = Adversary((1, 28, 28), TrainConfig(adversarial=0.1), torch.device("cpu"), classes=model.critic_classes)
    assert adv.disc.net[0].in_channels == 1 + 2  # image + one-hot domain planes
    assert adv.critic_step(pair["real"], pair["fake"], pair["real_cond"], pair["fake_cond"]) > 0
    adv.generator_term(pair["fake"], pair["fake_cond"]).backward()
    assert all(p.grad is None for p in adv.disc.parameters() if p.requires_grad)


def test_cycle_term_sends_each_swap_back_to_its_own_domain(small_x):
    model = _model(cycle=0.5)
    x, ids = small_x[:8], torch.tensor([0, 1] * 4)
    out = model(x, domain=ids)
    assert torch.equal(out["swap_domain"], 1 - ids) and out["x_cycle"].shape == x.shape
    terms = model.loss(x, out, domain=ids)
    assert torch.allclose(terms["loss"], terms["recon"] + 0.5 * terms["cycle"])
    state = torch.get_rng_state()
    assert torch.equal(model.critic_pairs(x, out, domain=ids)["fake"][8:], out["x_swap"])  # reused, not redrawn
    assert torch.equal(torch.get_rng_state(), state)
    model.eval()
    assert "cycle" not in model.loss(x, model(x, domain=ids), domain=ids)  # a training term only


def test_swap_cli_writes_marked_files_that_inspect_reads(swap_run, domain_files, tmp_path, capsys):
    cfg = json.loads((swap_run / "config.json").read_text())
    assert cfg["model"] == "swap" and [d["name"] for d in cfg["data"]["domains"]] == ["a", "b"]
    assert cfg["train"]["balance"] == "domain" and cfg["config"]["warp"] == 0.1 and cfg["config"]["recolour"] == 0.5
    assert cfg["config"]["edges"] == 0.25 and cfg["config"]["thicken"] == 0.2
    assert ckpt.read_metrics(swap_run)[-1]["train_adv"] > 0
    assert read_mark(swap_run / "swaps.png")["operation"] == "swap-figure"
    with Image.open(swap_run / "swaps.png") as im:
        assert im.size[0] > 200
    # Inputs: image files (one of another size, resized) and a folder of them.
    inputs = tmp_path / "in"
    inputs.mkdir()
    digits = np.load(domain_files[1])["x_test"][:3]
    for i, d in enumerate(digits):
        Image.fromarray(d).save(inputs / f"d{i}.png")
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "big.png")
    np.save(tmp_path / "stack.npy", digits)
    out = tmp_path / "out"
    assert main(["swap", str(swap_run), "--to", "a", str(inputs), str(tmp_path / "big.png"),
                 str(tmp_path / "stack.npy"), "--out", str(out)]) == 0
    files = sorted(out.glob("*.png"))
    assert [f.name for f in files] == ["big-to-a.png", "d0-to-a.png", "d1-to-a.png", "d2-to-a.png"]
    assert np.load(out / "stack-to-a.npy").shape == (3, 28, 28)
    capsys.readouterr()
    assert main(["inspect", *map(str, files), str(out / "stack-to-a.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(": credentials untrusted (c2pa.created, trainedAlgorithmicMedia" in line for line in lines[:4])
    assert ": credentials absent; mark " in lines[4]  # the array: its mark is the side-car
    marks = [json.loads(line.split("; mark ", 1)[1].rsplit("; ", 1)[0]) for line in lines]
    assert all(m["operation"] == "swap" and m["to"] == "a" and m["synthetic"] for m in marks)
    assert marks[1]["source_file"] == "d0.png"
    assert marks[0]["model_fingerprint"] == ckpt.fingerprint(swap_run / "model.safetensors")
    # The same swap through the API gives the same pixels.
    from aekit.apps.swap import swap_images
    from aekit.runs import watermark

    images, _ = swap_images(swap_run, digits, "a")
    marked = watermark.embed(images[1], marks[0]["model_fingerprint"])  # and the invisible pixel watermark
    assert np.array_equal(np.asarray(Image.open(out / "d1-to-a.png")), marked)
    # No silent overwrite; bad requests are one line and a non-zero exit.
    assert main(["swap", str(swap_run), "--to", "a", str(inputs), "--out", str(out)]) == 1
    (out / "stack-to-a.npy").unlink()  # the array gone, its provenance side-car is still the user's file
    side = out / "stack-to-a.npy.provenance.json"
    before = side.read_bytes()
    assert main(["swap", str(swap_run), "--to", "a", str(tmp_path / "stack.npy"), "--out", str(out)]) == 1
    assert "provenance.json exists" in capsys.readouterr().err and side.read_bytes() == before
    assert main(["swap", str(swap_run), "--to", "zz", str(inputs), "--out", str(tmp_path / "o2")]) == 1
    assert "unknown domain" in capsys.readouterr().err
    assert main(["swap", str(swap_run), "--to", "a", str(tmp_path / "missing.png"), "--out", str(tmp_path)]) == 1
    assert main(["swap", str(tmp_path), "--to", "a", str(inputs), "--out", str(tmp_path / "o3")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "not found" in err


def test_generate_and_eval_work_on_a_swap_run_as_its_first_domain(swap_run, tmp_path, capsys):
    out = tmp_path / "g.png"
    assert main(["generate", str(swap_run), "-n", "4", "--out", str(out)]) == 0
    assert read_mark(out)["operation"] == "generate" and read_mark(out)["model"] == "swap"
    assert main(["eval", str(swap_run), "--json"]) == 0
    mse = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["test_mse"]
    assert mse == pytest.approx(json.loads((swap_run / "eval.json").read_text())["domains"]["a"]["test_mse"], 1e-5)


def test_swap_train_errors_are_one_line(domain_files, tmp_path, capsys):
    a, b = domain_files
    cases = [["--domain", f"a={a}", "--out", str(tmp_path / "r1")],  # one domain
             ["--domain", f"a={a}", "--domain", f"a={b}", "--out", str(tmp_path / "r2")],  # a name twice
             ["--domain", "a", "--domain", f"b={b}", "--out", str(tmp_path / "r3")],  # no source
             ["--domain", f"a={a}", "--domain", "b=digits", "--out", str(tmp_path / "r4")],  # 28x28 vs 8x8
             ["--domain", f"a={a}", "--domain", f"b={tmp_path / 'nope'}", "--out", str(tmp_path / "r5")],
             ["--domain", f"a={a}", "--domain", f"b={b}", "--out", str(tmp_path / "r6"), "--set", "warp=2"],
             ["--domain", f"../../x={a}", "--domain", f"b={b}", "--out", str(tmp_path / "r7")]]  # names a file
    for args in cases:
        capsys.readouterr()
        assert main(["swap-train", *args]) == 1, args
        err = capsys.readouterr().err
        assert err.startswith("aekit: error:") and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir())  # no refused run left a folder behind
    assert main(["swap-train", "--resume", str(tmp_path)]) == 1


class Stop(Exception):
    """Stands in for a kill right after a checkpoint."""


def test_a_killed_swap_run_resumes_to_the_same_weights(domain_files, tmp_path, monkeypatch):
    a, b = domain_files
    args = ["--domain", f"a={a}", "--domain", f"b={b}", "--epochs", "2", "--checkpoint-every", "2",
            "--adversarial", "0.05", "--warp", "0.2", "--no-figure", "--batch-size", "64", "--device", "cpu", *CLI_TINY]
    assert main(["swap-train", *args, "--out", str(tmp_path / "full")]) == 0
    save = storage.save_tensors

    def save_then_die(path, tensors, meta=None):
        save(path, tensors, meta)
        if meta is not None and meta["epoch"] == 1 and meta["step"] >= 2:
            raise Stop

    monkeypatch.setattr(storage, "save_tensors", save_then_die)
    monkeypatch.setenv("AEKIT_DEBUG", "1")  # let the stand-in kill through the CLI's catch-all
    with pytest.raises(Stop):
        main(["swap-train", *args, "--out", str(tmp_path / "killed")])
    monkeypatch.undo()
    assert main(["swap-train", "--resume", str(tmp_path / "killed"), "--no-figure", "--no-progress"]) == 0
    full, _ = ckpt.load_tensors(tmp_path / "full" / "model.safetensors")
    resumed, _ = ckpt.load_tensors(tmp_path / "killed" / "model.safetensors")
    assert all(torch.equal(v, resumed[k]) for k, v in full.items())


def test_adversarial_code_alignment_trains_the_classifier_and_the_encoder_apart(small_x):
    model = _model(align=0.5, cycle=0.5)
    x, ids = small_x[:8], torch.tensor([0, 1] * 4)
    out = model(x, domain=ids)
    terms = model.loss(x, out, domain=ids)
    assert torch.allclose(terms["loss"], terms["recon"] + 0.5 * terms["cycle"] + 0.5 * terms["align"]
                          + terms["domain_ce"])
    assert float(terms["align"].detach()) >= float(torch.log(torch.tensor(2.0))) - 1e-6  # CE to uniform: log 2 at best
    terms["domain_ce"].backward(retain_graph=True)  # the classifier's own term never moves the encoder
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.domain_classifier.parameters())
    model.zero_grad(set_to_none=True)
    terms["align"].backward()  # the confusion term moves the encoder, never the classifier
    assert any(float(p.grad.abs().sum()) > 0 for p in model.encoder.parameters())
    assert all(p.grad is None for p in model.domain_classifier.parameters())
    assert not hasattr(_model(), "domain_classifier") and not hasattr(_model(align=1.0, align_kind="mmd"),
                                                                       "domain_classifier")
    with pytest.raises(ValueError, match="align"):
        _model(align=-1)
    with pytest.raises(ValueError, match="align_kind"):
        _model(align=1, align_kind="coral")


def test_mmd_alignment_measures_how_far_apart_the_domains_codes_lie():
    from aekit.models.align import mmd2, mmd_alignment

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, 16, generator=g), torch.randn(64, 16, generator=g)
    assert float(mmd2(a, b)) < 0.1 < float(mmd2(a, b + 2))
    z = torch.cat([a, b + 2]).view(128, 4, 2, 2)  # a code map
    ids = torch.cat([torch.zeros(64), torch.ones(64)]).long()
    assert torch.allclose(mmd_alignment(z, ids), mmd2(a, b + 2), atol=1e-5)  # two domains: both ways agree
    assert float(mmd_alignment(z, torch.zeros(128).long())) == 0  # one domain in the batch: nothing to align
    model = _model(align=2.0, align_kind="mmd")
    x = torch.rand(8, 1, 28, 28)
    out = model(x, domain=torch.tensor([0, 1] * 4))
    terms = model.loss(x, out, domain=torch.tensor([0, 1] * 4))
    assert torch.allclose(terms["loss"], terms["recon"] + 2.0 * terms["align"])


def test_save_load_keeps_the_domain_classifier(tmp_path):
    model = _model(align=1.0).eval()
    ckpt.save_model(tmp_path, model, ckpt.run_config(model, {"normalizer": None}))
    loaded, _ = ckpt.load_model(tmp_path)
    for k, v in model.domain_classifier.state_dict().items():
        assert torch.equal(v, loaded.domain_classifier.state_dict()[k])


def test_code_cycle_asks_each_swap_to_encode_to_its_source_code(small_x):
    model = _model(code_cycle=2.0)
    x, ids = small_x[:8], torch.tensor([0, 1] * 4)
    out = model(x, domain=ids)
    assert "cycle_logits" not in out and out["z_swap"].shape == out["z"].shape  # no pixel cycle asked for
    terms = model.loss(x, out, domain=ids)
    z = out["z"].detach()
    want = ((out["z_swap"] - z) ** 2).mean() / (z ** 2).mean()
    assert torch.allclose(terms["code_cycle"], want) and torch.allclose(terms["loss"], terms["recon"] + 2.0 * want)
    terms["code_cycle"].backward()  # flows through the swap into the other domain's decoder, and the encoder
    assert all(any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in d.parameters())
               for d in model.decoders)
    assert any(float(p.grad.abs().sum()) > 0 for p in model.encoder.parameters())
    with pytest.raises(ValueError, match="code_cycle"):
        _model(code_cycle=-1)


def test_grey_and_colour_domains_meet_in_rgb(tmp_path):
    from aekit.apps.swap import load_domains

    rng = np.random.default_rng(0)
    grey, colour = rng.integers(0, 256, (20, 12, 12), dtype=np.uint8), rng.integers(0, 256, (20, 12, 12, 3), np.uint8)
    np.save(tmp_path / "g.npy", grey)
    np.save(tmp_path / "c.npy", colour)
    ds = load_domains({"g": str(tmp_path / "g.npy"), "c": str(tmp_path / "c.npy")})
    assert ds["g"].x_train.shape[1:] == (12, 12, 3) and ds["c"].x_train.shape[1:] == (12, 12, 3)
    assert np.array_equal(ds["g"].x_train[..., 0], ds["g"].x_train[..., 2])  # the grey levels, in every channel
