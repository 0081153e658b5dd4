"""The article's autoencoder three ways, same MNIST split, same machine, same run: the original Keras code, aekit's
`seed` preset and aekit's `fast` preset. Prints a JSON object as its last line, writes benchmarks/results/<name>.json
and its row of the `seed` section of BENCHMARKS.md.

    python benchmarks/seed.py [--repeats 3] [--no-keras] [--device cuda --name seed-gpu]
                                          (Keras needs the bench extra: pip install -e '.[bench]')
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import argv_text, command, device, machine, on_device, table, update, write_result  # noqa: E402

import aekit  # noqa: E402
from aekit import train  # noqa: E402
from aekit.metrics.reconstruction import bce, mse, reconstruct  # noqa: E402
from aekit.models import build_model  # noqa: E402
from aekit.runs.presets import get_preset  # noqa: E402
from aekit.training.config import train_config_from_dict  # noqa: E402


def run_keras(npz: Path) -> dict:
    """The article's code in its own process (TensorFlow and PyTorch do not share threads well)."""
    try:
        import keras  # noqa: F401
    except ImportError:
        return {"skipped": "keras/tensorflow not installed: pip install -e '.[bench]'"}
    res = subprocess.run([sys.executable, str(Path(__file__).with_name("_keras_seed.py")), str(npz)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        return {"skipped": f"keras run failed: {res.stderr.strip().splitlines()[-1:]}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_aekit(preset: str, x_train: torch.Tensor, x_test: torch.Tensor, seed: int, device: str = "cpu") -> dict:
    """Build and train a preset through the library, timing the whole train() call."""
    p = get_preset(preset)
    cfg = train_config_from_dict({**p["train"], "seed": seed, "device": device})
    torch.manual_seed(seed)
    model = build_model(p["model"], {**p["config"], "input_shape": tuple(x_train.shape[1:])})
    t0 = time.perf_counter()
    train(model, x_train, cfg, progress=False)
    if torch.cuda.is_available():
        torch.cuda.synchronize()  # count queued GPU work too
    seconds = time.perf_counter() - t0
    x_hat = reconstruct(model, x_test, device=next(model.parameters()).device)
    return {"seconds": seconds, "test_bce": bce(x_test, x_hat), "test_mse": mse(x_test, x_hat)}


def summarise(runs: list[dict]) -> dict:
    """Medians over repeats, with every repeat kept."""
    keys = ("seconds", "test_bce", "test_mse")
    return {**{k: statistics.median(r[k] for r in runs) for k in keys}, "runs": runs}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each; medians are reported")
    ap.add_argument("--no-keras", action="store_true", help="skip the Keras run")
    ap.add_argument("--device", default="cpu", help="device for the aekit runs (Keras always runs on the CPU)")
    ap.add_argument("--name", default="seed", help="results/<name>.json and BENCHMARKS.md section name")
    args = ap.parse_args(argv)

    ds = aekit.load_dataset("mnist")
    x_train = torch.from_numpy(ds.x_train[:, None].astype(np.float32) / 255)
    x_test = torch.from_numpy(ds.x_test[:, None].astype(np.float32) / 255)
    runs: dict[str, list] = {"keras": [], "seed": [], "fast": []}
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "mnist.npz"
        np.savez(npz, x_train=ds.x_train, x_test=ds.x_test)
        for r in range(args.repeats):  # interleaved, so machine noise spreads over all three
            if not args.no_keras:
                runs["keras"].append(run_keras(npz))
            for preset in ("seed", "fast"):
                runs[preset].append(run_aekit(preset, x_train, x_test, seed=r, device=args.device))
            print(json.dumps({k: v[-1] for k, v in runs.items() if v}), file=sys.stderr)

    result = {k: summarise(v) for k, v in runs.items() if v and "skipped" not in v[0]}
    if runs["keras"] and "skipped" in runs["keras"][0]:
        result["keras"] = runs["keras"][0]
    if "seconds" in result.get("keras", {}):
        k = result["keras"]
        result["acceptance"] = {
            "seed_bce_minus_keras": result["seed"]["test_bce"] - k["test_bce"],
            "seed_within_0.002": abs(result["seed"]["test_bce"] - k["test_bce"]) <= 0.002,
            "fast_bce_le_keras": result["fast"]["test_bce"] <= k["test_bce"],
            "fast_time_fraction_of_keras": result["fast"]["seconds"] / k["seconds"],
            "fast_within_1/8_time": result["fast"]["seconds"] <= k["seconds"] / 8,
        }
    result["machine"] = {**machine(), **on_device(args.device)}
    result["repeats"] = args.repeats
    result["argv"] = argv_text(argv)
    write_result(args.name, result)
    update("seed", section)
    print(json.dumps(result))
    return result


LABELS = {"keras": "the article's Keras code", "seed": "aekit `seed` preset", "fast": "aekit `fast` preset"}
SHORT = (
    "**Where aekit falls short.** `fast` lands near 1/8 of Keras's time, on either side of it from run to run: Keras's "
    "test BCE varies from 0.089 to 0.096 between runs (it is unseeded) and timings on the shared 2-core machine "
    "drift, which is why the contenders are interleaved and medians reported. `seed` is faster than Keras for the "
    "same recipe through PyTorch's fused Adam and flushing denormal floats to zero while training. On a GPU this "
    "210k-parameter model at batch 32-64 is bound by per-step launch latency, not arithmetic, and is no faster "
    "than 2 CPU cores: a GPU pays off with large batches or bigger models.")


def rows(name: str, r: dict) -> list[list[str]]:
    """One row per contender of one result variant; the variant's command on its first row."""
    out = []
    for key, label in LABELS.items():
        v = r.get(key, {})
        if "seconds" in v:
            where = f"{r['machine']['cpu_count']} CPU cores" if key == "keras" else device(r["machine"])
            out.append([name, label, where, str(r["repeats"]),
                        f"{v['seconds']:.2f}", f"{v['test_bce']:.4f}", f"{v['test_mse']:.5f}", ""])
    out[0][-1] = command("seed.py", r.get("argv", ""))
    return out


def section(results: dict) -> str:
    """BENCHMARKS.md's `seed` section from every seed*.json."""
    body = [r for name, r in results.items() for r in rows(name, r)]
    lines = [
        "The article's 784-128-32-128-784 autoencoder trained 3 epochs on MNIST (60k train / 10k test): the article's "
        "Keras code against aekit's `seed` preset (the same recipe) and `fast` preset, interleaved in one run. "
        "Seconds: the training call's wall time, median over the repeats; test BCE and MSE: medians too. "
        "`make bench` installs Keras and runs `python benchmarks/seed.py`.", "",
        *table(["variant", "model", "device", "repeats", "seconds", "test BCE", "test MSE", "command"], body), ""]
    for name, r in results.items():
        if acc := r.get("acceptance"):
            lines += [f"In `{name}`, `seed` - Keras test BCE is {acc['seed_bce_minus_keras']:+.4f} and `fast` takes "
                      f"{acc['fast_time_fraction_of_keras']:.3f} of Keras's time at a test BCE "
                      f"{'no higher than' if acc['fast_bce_le_keras'] else 'above'} Keras's.", ""]
    return "\n".join(lines + [SHORT])


if __name__ == "__main__":
    main()
