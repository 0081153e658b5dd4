"""The CLI end to end on small real data; every error is one line and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aekit.cli import main
from aekit.cli.app import as_options
from aekit.cli.text import parse_augment, parse_domains, parse_sets
from aekit.errors import AekitError
from aekit.fileio import atomic_write, refuse_existing
from aekit.runs import files as ckpt
from aekit.runs.options import size_value, widths_value
from aekit.runs.provenance import read_mark
from aekit.runs.settings import resolve_settings

FAST = ["--epochs", "1", "--batch-size", "64", "--no-progress"]


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def trained(mnist_npz, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "seed"
    assert main(["train", "--data", str(mnist_npz), "--out", str(run), *FAST]) == 0
    return run


def test_train_writes_a_complete_run(trained):
    names = {p.name for p in trained.iterdir()}
    assert {"config.json", "model.safetensors", "checkpoint.safetensors", "metrics.jsonl", "eval.json",
            "reconstructions.png"} <= names
    cfg = json.loads((trained / "config.json").read_text())
    assert cfg["model"] == "dense" and cfg["config"]["input_shape"] == [1, 28, 28]
    assert cfg["config"]["hidden"] == [128] and cfg["config"]["code_size"] == 32
    assert cfg["data"]["normalizer"] == {"kind": "image", "low": 0.0, "high": 255.0}
    assert (trained / "reconstructions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_json_has_the_promised_keys(trained, capsys):
    assert main(["eval", str(trained), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("test_bce", "test_mse", "test_psnr", "pca_mse"):
        assert isinstance(out[key], float)
    assert out["n_test"] == 256 and out["code_size"] == 32
    assert 0 < out["test_mse"] < 0.1 and out["test_psnr"] > 10


def test_info_and_reconstruct(trained, tmp_path, capsys):
    assert main(["info", str(trained), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"] == 209_968 and info["epochs_done"] == 1 and len(info["fingerprint"]) == 64
    assert info["weights"] == "ok"
    png = tmp_path / "fig.png"
    png.mkdir()  # a folder where the figure should go: no --force replaces it
    assert main(["reconstruct", str(trained), "-n", "5", "--out", str(png), "--force"]) == 1
    assert "is a folder; name a file to write" in capsys.readouterr().err and png.is_dir()
    png.rmdir()
    assert main(["reconstruct", str(trained), "-n", "5", "--out", str(png)]) == 0
    assert png.stat().st_size > 1000
    for fig in (png, trained / "reconstructions.png"):  # reconstructions are model output: marked
        assert read_mark(fig)["operation"] == "reconstruct"
    np.save(tmp_path / "wrong.npy", np.zeros((4, 10, 10), np.uint8))
    capsys.readouterr()
    assert main(["reconstruct", str(trained), "--data", str(tmp_path / "wrong.npy"), "--out", str(tmp_path / "w.png")]) == 1
    assert "the model expects (1, 28, 28)" in _err_line(capsys)
    assert main(["reconstruct", str(trained), "-n", "5", "--out", str(png)]) == 1  # no silent overwrite
    assert "--force" in _err_line(capsys)
    assert main(["reconstruct", str(trained), "-n", "5", "--out", str(png), "--force"]) == 0
    size = png.stat().st_size
    assert main(["reconstruct", str(trained), "-n", "5", "--out", str(png), "--force", "--refine", "5"]) == 0
    assert png.stat().st_size > size  # a third row: the refined codes' reconstructions
    assert main(["reconstruct", str(trained), "-n", "5", "--out", str(tmp_path / "x.png"), "--refine", "-1"]) == 1
    assert "steps" in _err_line(capsys) and not (tmp_path / "x.png").exists()
    nested = tmp_path / "new" / "folder" / "fig.png"  # the folders of a named output file are made
    assert main(["reconstruct", str(trained), "-n", "3", "--out", str(nested)]) == 0 and read_mark(nested)
    assert main(["reconstruct", str(trained), "-n", "3", "--out", str(png / "inside.png")]) == 1  # png is a file
    assert "is not a folder" in _err_line(capsys) and read_mark(png)


def test_same_seed_cli_runs_are_bitwise_identical(mnist_npz, tmp_path):
    for name in ("a", "b"):
        assert main(["train", "--preset", "seed", "--seed", "0", "--data", str(mnist_npz), "--out",
                     str(tmp_path / name), "--no-eval", *FAST]) == 0
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()


def test_options_from_toml_and_flags(mnist_npz, tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text('preset = "fast"\n[config]\ncode_size = 8\nhidden = [64]\n[train]\nepochs = 1\nlr = 0.002\n')
    run = tmp_path / "r"
    assert main(["train", "--config", str(conf), "--data", str(mnist_npz), "--lr", "0.004", "--out", str(run),
                 "--no-eval", "--no-progress"]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["config"]["code_size"] == 8 and cfg["config"]["hidden"] == [64]
    assert cfg["train"]["lr"] == 0.004 and cfg["train"]["epochs"] == 1  # flag beats file beats preset
    assert cfg["train"]["schedule"] == "linear"  # from the fast preset named in the file


def test_conv_preset_trains_against_the_clock(mnist_npz, tmp_path, capsys):
    run = tmp_path / "c"
    assert main(["train", "--preset", "conv", "--data", str(mnist_npz), "--out", str(run), "--epochs", "50",
                 "--time-limit", "1", "--no-channels-last", "--no-eval", "--no-progress"]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"] == "conv" and cfg["train"]["precision"] == "bf16" and cfg["train"]["time_limit"] == 1
    assert cfg["train"]["channels_last"] is False  # the flag beats the preset
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    # the clock, not the 50 epochs, ended it (seconds can run past the limit by a step: slow on a busy machine)
    assert rows[-1]["seconds"] < 60 and rows[-1]["step"] < 50 * 1024 / 32
    assert len(rows) - 1 < rows[-1]["epochs_done"] <= len(rows)  # the clock may end an epoch part way
    capsys.readouterr()
    assert main(["info", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs_done"] == rows[-1]["epochs_done"]


def test_force_replaces_and_refusal_keeps_the_old_run(trained, mnist_npz, capsys):
    before = (trained / "model.safetensors").read_bytes()
    assert main(["train", "--data", str(mnist_npz), "--out", str(trained), *FAST]) == 1
    assert "already holds a run" in _err_line(capsys)
    assert (trained / "model.safetensors").read_bytes() == before


def test_a_folder_holding_the_users_files_is_refused_even_with_force(mnist_npz, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "metrics.jsonl").write_text("my own log\n")
    assert main(["train", "--data", str(mnist_npz), "--out", str(mine), *FAST, "--no-eval"]) == 1
    err = _err_line(capsys)
    assert "metrics.jsonl, which a run would overwrite" in err and "already holds a run" not in err
    (mine / "keep.txt").write_text("keep")
    for force in ([], ["--force"]):  # files a run does not write: never mixed with a run's, whatever --force says
        assert main(["train", "--data", str(mnist_npz), "--out", str(mine), *FAST, "--no-eval", *force]) == 1
        assert "holds files that are not a run's (keep.txt); a run goes into a new or empty folder" in _err_line(capsys)
    assert sorted(p.name for p in mine.iterdir()) == ["keep.txt", "metrics.jsonl"]
    assert (mine / "metrics.jsonl").read_text() == "my own log\n"


def test_a_failed_force_retrain_restores_the_run_and_a_good_one_drops_its_stale_results(trained, mnist_npz,
                                                                                       tmp_path, capsys):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained, run)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    capsys.readouterr()
    assert main(["train", "--data", str(mnist_npz), "--out", str(run), "--force", "--device", "bogus", *FAST]) == 1
    assert "unknown device 'bogus'" in _err_line(capsys)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # everything back, nothing left over
    assert main(["train", "--data", str(mnist_npz), "--out", str(tmp_path / "new"), "--device", "bogus", *FAST]) == 1
    assert not (tmp_path / "new").exists()  # a failed first try leaves no folder to block the next
    assert main(["train", "--data", str(mnist_npz), "--out", str(run), "--force", "--no-eval", "--set",
                 "code_size=8", *FAST]) == 0
    names = {p.name for p in run.iterdir()}
    assert "eval.json" not in names and "reconstructions.png" not in names  # the old run's results are gone
    assert {"config.json", "model.safetensors"} <= names and ckpt.REPLACED not in names
    assert ckpt.read_run_config(run)["config"]["code_size"] == 8


def test_augment_flag_reaches_the_trainer_and_the_run_record(mnist_npz, tmp_path):
    run = tmp_path / "aug"
    assert main(["train", "--data", str(mnist_npz), "--epochs", "0.1", "--no-progress", "--no-eval", "--out", str(run),
                 "--augment", "rotate=8, scale=0.08,elastic=0.7,p=0.5"]) == 0
    train = json.loads((run / "config.json").read_text())["train"]
    assert {k: train[f"augment_{k}"] for k in ("rotate", "scale", "shift", "elastic", "p")} == \
        {"rotate": 8.0, "scale": 0.08, "shift": 0.0, "elastic": 0.7, "p": 0.5}
    assert ckpt.read_metrics(run)[0]["train_loss"] > 0


def test_init_fine_tunes_a_trained_run(trained, mnist_npz, tmp_path, capsys):
    """--init starts from the run's weights and config: its first steps begin at the trained model's loss."""
    few = ["--data", str(mnist_npz), "--epochs", "0.1", "--lr", "1e-5", "--batch-size", "64", "--no-progress",
           "--no-eval"]
    tuned, fresh = tmp_path / "tuned", tmp_path / "fresh"
    assert main(["train", "--init", str(trained), "--out", str(tuned), *few]) == 0
    assert main(["train", "--out", str(fresh), "--set", "code_size=8", *few]) == 0
    cfg = json.loads((tuned / "config.json").read_text())
    assert cfg["data"]["init"]["fingerprint"] == ckpt.fingerprint(trained / "model.safetensors")
    assert cfg["config"] == json.loads((trained / "config.json").read_text())["config"]
    loss = lambda run: ckpt.read_metrics(run)[0]["train_loss"]  # noqa: E731
    assert loss(tuned) < 0.8 * loss(fresh)
    capsys.readouterr()
    for extra, message in [(["--set", "code_size=4"], "drop --model"), (["--dataset", "digits"], "shape (1, 8, 8)"),
                           (["--out", str(trained)], "use --resume")]:
        argv = ["train", "--init", str(trained), "--out", str(tmp_path / "x"), "--no-progress", *extra]
        assert main(argv) != 0
        assert message in _err_line(capsys)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("argv, message", [
    (["eval", "/nonexistent/run"], "not a run folder"),
    (["info", "/nonexistent/run"], "not a run folder"),
    (["generate", "{tmp}"], "not a run folder (it has no config.json)"),
    (["train", "--data", "/nonexistent/data.npz", "--out", "{tmp}/x"], "not"),
    (["train", "--dataset", "imagenet", "--out", "{tmp}/x"], "imagenet"),
    (["train", "--hidden", "12,abc", "--out", "{tmp}/x"], "--hidden"),
    (["train", "--hidden", "64,,32", "--out", "{tmp}/x"], "--hidden should be widths"),
    (["train", "--test-fraction", "1.5", "--out", "{tmp}/x"], "test fraction must be between 0 and 1"),
    (["train", "--patches", "8x8", "--patches-per-image", "0", "--out", "{tmp}/x"], "positive whole number"),
    (["train", "--config", "{tmp}/missing.toml", "--out", "{tmp}/x"], "missing.toml"),
    (["train", "--lr", "-1", "--out", "{tmp}/x"], "positive"),
    (["train", "--lr", "nan", "--out", "{tmp}/x"], "lr must be finite"),
    (["train", "--data", "{npz}", "--model", "vae", "--set", "beta=nan", "--out", "{tmp}/x"],
     "beta must be a finite number, got 'nan'"),
    (["train", "--data", "{npz}", "--set", "code_size=2.5", "--out", "{tmp}/x"], "code_size must be a whole number"),
    (["train", "--resume", "{tmp}"], "config.json"),
    (["train", "--augment", "rotate=8,twist=1", "--out", "{tmp}/x"], "--augment expects KEY=NUMBER pairs"),
    (["train", "--augment", "rotate=much", "--out", "{tmp}/x"], "--augment rotate must be a number"),
    (["train", "--augment", "scale=2", "--out", "{tmp}/x"], "augmentation needs rotate in [0, 180] degrees"),
])
def test_errors_are_one_line(argv, message, tmp_path, capsys, mnist_npz):
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{npz}", str(mnist_npz)) for a in argv]
    assert main(argv) != 0
    assert message in _err_line(capsys)
    assert not (tmp_path / "x").exists()  # a refused run leaves no folder behind


def test_corrupt_run_files_are_refused_cleanly(trained, tmp_path, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained, bad)
    (bad / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    assert main(["eval", str(bad)]) == 1
    assert "safetensors" in _err_line(capsys)
    assert main(["info", str(bad), "--json"]) == 1  # described, with the fault named and a failing exit
    assert json.loads(capsys.readouterr().out)["weights"].startswith("unusable: ")
    (bad / "model.safetensors").unlink()  # a run still training: no weights yet, nothing wrong
    assert main(["info", str(bad), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"] == "missing"
    (bad / "config.json").write_text("{not json")
    assert main(["info", str(bad)]) == 1
    assert "JSON" in _err_line(capsys)


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "default: seed" in out and "default: 0.1" in out and "(seed: 32)" in out
    assert "--lr LR peak learning rate (seed: 0.001)" in out and "(seed: 0 = epoch ends)" in out
    compact = "".join(out.split())  # help lines may wrap inside an option's name (at its hyphens)
    assert "needs--val-fraction(seed:0)" in compact and "--disc-channelsW,W" in compact and "(seed:32,64)" in compact
    assert "--augment KEY=V,..." in out and "--channels-last, --no-channels-last" in out
    assert "--betas" not in out and "--final-lr" not in out and "--balance" not in out  # not options


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["train", "--help"], ["every", "--help"]])
def test_help_loads_neither_torch_nor_scikit_learn(argv):
    code = ("import contextlib, io, sys\n"
            "from aekit.cli import main\n"
            "from aekit.cli.app import build_parser\n"
            f"argv = {argv!r}\n"
            "commands = build_parser()._subparsers._group_actions[0].choices if argv[0] == 'every' else [argv[0]]\n"
            "for command in commands:\n"
            "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "        try:\n"
            "            main([command, *argv[1:]] if argv[0] == 'every' else argv)\n"
            "        except SystemExit:\n"
            "            pass\n"
            "    assert 'usage' in out.getvalue() or out.getvalue().startswith('aekit'), out.getvalue()\n"
            "assert len(commands) >= (15 if argv[0] == 'every' else 1)\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sklearn'))\n"
            "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_text_options_are_parsed_by_the_cli_and_toml_sizes_by_the_library():
    assert parse_sets(["beta=4", "channels=[32,64]", "name=x"]) == {"beta": 4, "channels": [32, 64], "name": "x"}
    assert parse_augment("rotate=8, p=0.5") == {"augment_rotate": 8.0, "augment_p": 0.5} and parse_augment(None) == {}
    assert parse_domains(["a=mnist", "b=./imgs"]) == {"a": "mnist", "b": "./imgs"}
    with pytest.raises(AekitError, match="^--train-set expects KEY=VALUE"):
        parse_sets(["nokey"], "--train-set")
    with pytest.raises(AekitError, match="at least two domains"):
        parse_domains(["a=mnist"])
    assert size_value("28x28") == size_value([28, 28]) == (28, 28) and size_value(None) is None
    for bad in ["28", [28], [28.0, 28], "0x5"]:
        with pytest.raises(AekitError, match="^image_size "):
            size_value(bad)
    assert widths_value("256,128", "hidden") == [256, 128] and widths_value("", "hidden") == []
    assert widths_value([64], "hidden") == [64]
    with pytest.raises(AekitError, match="^--hidden should be widths"):
        widths_value("64,,32", "--hidden")


def test_library_messages_name_parameters_and_the_cli_shows_its_options(tmp_path, capsys):
    args = argparse.Namespace(force=False, out=None, grad_clip=0.0)
    assert as_options("x exists; pass `force` to replace it", args) == "x exists; pass --force to replace it"
    assert as_options("try a lower `lr` or `grad_clip`", args) == "try a lower lr or --grad-clip"  # no --lr here
    swap_train = argparse.Namespace(epochs=2, train_set=[])  # swap-train reaches other training options so
    assert as_options("raise `epochs` or set `min_steps`", swap_train) == "raise --epochs or set --train-set min_steps=..."
    assert as_options("choose a `code_size`", swap_train) == "choose a code_size"  # not a training option
    (tmp_path / "f.png").write_bytes(b"mine")
    with pytest.raises(AekitError, match="f.png exists; pass `force` to replace it$"):  # Python: no flags
        refuse_existing([tmp_path / "f.png"], force=False)


def test_toml_sizes_and_widths_may_be_text_or_typed(tmp_path):
    for size, hidden in [('"12x10"', '"64,32"'), ("[12, 10]", "[64, 32]")]:
        conf = tmp_path / "c.toml"
        conf.write_text(f'image_size = {size}\npatches = {size}\n[config]\nhidden = {hidden}\n'
                        '[train]\ndisc_channels = "8,16"\n')
        s = resolve_settings(config_file=str(conf))
        assert s["image_size"] == s["patches"] == (12, 10) and s["config"]["hidden"] == [64, 32]
        assert s["train"]["disc_channels"] == [8, 16]
    assert resolve_settings(image_size=(12, 10), model_options={"hidden": [8]})["config"]["hidden"] == [8]


def test_wrong_shape_weights_are_refused(trained, tmp_path, capsys):
    import shutil

    import torch

    bad = tmp_path / "shape"
    shutil.copytree(trained, bad)
    tensors, _ = ckpt.load_tensors(bad / "model.safetensors")
    tensors["encoder.0.weight"] = torch.zeros(3, 3)
    ckpt.save_tensors(bad / "model.safetensors", tensors)
    assert main(["eval", str(bad)]) == 1
    assert "shape" in _err_line(capsys)


def test_every_model_trains_one_epoch_from_the_cli_with_denoising(mnist_npz, tmp_path, capsys):
    from aekit.models import MODELS

    for name in sorted(MODELS):
        run = tmp_path / name
        assert main(["train", "--model", name, "--code-size", "8", "--data", str(mnist_npz), "--out", str(run),
                     "--noise", "gaussian", "--noise-strength", "0.3", *FAST]) == 0, capsys.readouterr().err
        cfg = json.loads((run / "config.json").read_text())
        assert cfg["model"] == name and cfg["config"]["code_size"] == 8 and cfg["train"]["noise"] == "gaussian"
        assert json.loads((run / "eval.json").read_text())["test_mse"] < 0.2


def test_adversarial_sparse_and_set_options(mnist_npz, tmp_path, capsys):
    run = tmp_path / "adv"
    assert main(["train", "--data", str(mnist_npz), "--out", str(run), "--adversarial", "0.1", "--adv-loss", "hinge",
                 "--disc-channels", "8,16,16", "--ema", "0.99",
                 "--sparsity", "l1", "--set", "sparsity_weight=0.01", "--set", "hidden=[64]", *FAST]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["config"]["sparsity"] == "l1" and cfg["config"]["sparsity_weight"] == 0.01
    assert cfg["config"]["hidden"] == [64] and cfg["train"]["adversarial"] == 0.1
    assert cfg["train"]["disc_channels"] == [8, 16, 16] and cfg["train"]["ema"] == 0.99
    tensors, _ = ckpt.load_tensors(run / ckpt.STATE)
    assert tensors["disc.net.4.parametrizations.weight.original"].shape[0] == 16  # the third stage is there
    assert any(k.startswith("ema.") for k in tensors)
    last = ckpt.read_metrics(run)[-1]
    assert last["train_adv"] != 0 and last["train_code_activation"] > 0  # hinge: -mean(logits), either sign
    assert main(["train", "--data", str(mnist_npz), "--out", str(tmp_path / "x"), "--set", "nokey"]) == 1
    assert "KEY=VALUE" in _err_line(capsys)
    assert main(["train", "--data", str(mnist_npz), "--out", str(tmp_path / "y"), "--set", "depth=3"]) == 1
    assert "depth" in _err_line(capsys)
    assert main(["train", "--data", str(mnist_npz), "--out", str(tmp_path / "z"), "--disc-channels", "8,x"]) == 1
    assert "--disc-channels" in _err_line(capsys)


def test_a_collapsed_vae_is_reported_with_its_active_dimensions(mnist_npz, tmp_path, caplog):
    from aekit.metrics.reconstruction import active_dims
    from aekit.models import build_model

    vae = build_model("vae", {"code_size": 4})
    x = torch.rand(64, 1, 28, 28)
    assert active_dims(vae, x, threshold=0.0) == 4  # a fresh encoder's means vary with the input
    with torch.no_grad():
        vae.head.weight.zero_()  # every input gets the same posterior: nothing active
    assert active_dims(vae, x) == 0
    common = ["train", "--model", "vae", "--data", str(mnist_npz), *FAST]
    # a light KL term: the code is used, no warning
    assert main([*common, "--set", "beta=0.01", "--epochs", "3", "--out", str(tmp_path / "ok")]) == 0
    assert "code dimensions are active" not in caplog.text
    assert json.loads((tmp_path / "ok" / "eval.json").read_text())["active_dims"] >= 4
    assert main([*common, "--set", "beta=1000", "--out", str(tmp_path / "collapsed")]) == 0  # KL crushes the code
    assert json.loads((tmp_path / "collapsed" / "eval.json").read_text())["active_dims"] == 0
    assert "only 0 of 16 code dimensions are active: the decoder ignores" in caplog.text


def test_resume_refuses_options_it_would_ignore_and_a_config_preset_names_the_default_out(trained, tmp_path,
                                                                                          capsys, monkeypatch):
    capsys.readouterr()
    assert main(["train", "--resume", str(trained), "--epochs", "5", "--set", "code_size=2"]) == 1
    assert "drop --epochs, --set" in _err_line(capsys)
    (tmp_path / "f.toml").write_text('preset = "fast"\n[train]\nepochs = 0.01\n')
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "data" / "x.npy", np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8))
    assert main(["train", "--config", "f.toml", "--data", "data/x.npy", "--no-eval", "--no-progress"]) == 0
    assert ckpt.read_run_config(tmp_path / "runs" / "fast")["train"]["batch_size"] == 64  # the fast preset's


def test_paths_in_errors_are_the_users_own(trained, tmp_path, capsys):
    capsys.readouterr()
    assert main(["inspect", str(tmp_path)]) == 1
    assert "is a folder, not a file" in _err_line(capsys)
    target = tmp_path / "no-such-folder" / "fig.png"  # atomic_write makes no folders; its error names the target
    with pytest.raises(OSError) as e:
        atomic_write(target, b"x")
    assert e.value.filename == str(target)


def test_no_output_replaces_another_output_an_input_or_the_run_itself(trained, mnist_npz, tmp_path, capsys):
    weights = (trained / "model.safetensors").read_bytes()
    data = tmp_path / "data.npz"
    data.write_bytes(mnist_npz.read_bytes())
    digit = tmp_path / "digit.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(digit)
    digit_bytes = digit.read_bytes()
    cases = [  # (argv, what the one error line says); --force cannot override any of these
        (["embed", str(trained), "--out", str(tmp_path / "e.npy"), "--figure", str(tmp_path / "e.npy")],
         "name it .png"),
        (["reconstruct", str(trained), "--out", str(tmp_path / "fig.jpg")], "name it .png"),
        (["generate", str(trained), "-n", "2", "--out", str(tmp_path / "s" / "sample-0000.png"),
          "--separate", str(tmp_path / "s")], "named for two outputs"),
        (["anomalies", str(trained), str(data), "--out", str(data)], "name it .png"),
        (["interpolate", str(trained), str(digit), "0", "--out", str(digit)], "is one of the inputs"),
        (["reconstruct", str(trained), "--out", str(trained / "model.safetensors")], "name it .png"),
    ]
    for argv, message in cases:
        capsys.readouterr()
        assert main([*argv, "--force"]) == 1, argv
        assert message in _err_line(capsys), argv
    assert (trained / "model.safetensors").read_bytes() == weights
    assert data.read_bytes() == mnist_npz.read_bytes() and not (tmp_path / "e.npy").exists()
    assert digit.read_bytes() == digit_bytes and not (tmp_path / "fig.jpg").exists()


def test_damaged_side_files_are_reported_not_crashed_on(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "eval.json").write_text("[")
    assert main(["info", str(run)]) == 0  # the run itself is fine; its stored evaluation is not
    assert "unreadable" in capsys.readouterr().out
    codes = tmp_path / "c.npy"
    np.save(codes, np.zeros((2, 2), np.float32))
    (tmp_path / "c.npy.provenance.json").write_bytes(b"\xff\xfe\x00")
    assert main(["inspect", str(codes)]) == 1
    assert "corrupt" in _err_line(capsys)


def test_log_warnings_name_the_commands_options_too(caplog):
    import logging

    from aekit.cli.app import _Options

    record = logging.LogRecord("aekit.apps.evaluate", logging.WARNING, __file__, 1,
                               "try more `epochs`, kl_warmup=0.2, or a lower `lr` (%d)", (3,), None)
    assert _Options(argparse.Namespace(epochs=None, lr=None)).filter(record)
    assert record.getMessage() == "try more --epochs, kl_warmup=0.2, or a lower --lr (3)"


def test_the_cli_leaves_the_library_logger_as_it_found_it(tmp_path, caplog):
    import logging

    assert main(["info", str(tmp_path / "none")]) == 1  # installs its option wording for the call, then removes it
    logging.getLogger("aekit.x").warning("pass `force` to replace it")
    assert caplog.records[-1].getMessage() == "pass `force` to replace it"
