"""What a model that sees pairs reaches: the reference for the paired swap's PSNR goal.

The swap model never sees a pair (each identity trains on its own digits). This oracle does: for every direction a -> b,
aekit's conv autoencoder with the paired swap model's backbone (``swap.PAIRED_MODEL``'s channels, blocks and spatial
code) learns render_a(x) -> render_b(x) on 15,000 MNIST training digits (one identity's share), for as many passes as
each swap decoder gets over its share (``--epochs``, default ``swap.PAIRED_EPOCHS``), Adam with a one-cycle schedule,
binary cross-entropy; a -> a is its ceiling. Scored on the paired benchmark's 1,000 evaluation digits: PSNR against
the truth render_b(x), the gap to b's ceiling, and content kept (the share of outputs that the paired benchmark's
content judge of b reads as the source's digit; the judges are the ones ``swap.py --judges DIR`` keeps, trained with
the settings of the stored paired result, or trained here when DIR has none). A gap the oracle cannot close is one no
unpaired swap of this size can be expected to close either: it is the information a drawing loses (a hollow outline
does not say how thick the stroke inside was); what the oracle reaches with longer training, a swap might reach with
more too.

Writes swap.json's ``paired_oracle`` (the paired section shows it beside the swap's gap).

    python benchmarks/swap_oracle.py [--epochs 19.2] [--n-eval 1000] [--judges DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import product
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _paired  # noqa: E402
import swap  # noqa: E402
from _paired_judges import model_space, predict  # noqa: E402
from _report import RESULTS, argv_text, machine, write_result  # noqa: E402

from aekit.data import load_dataset  # noqa: E402
from aekit.data.identities import IDENTITIES, identity_share, render  # noqa: E402
from aekit.metrics.reconstruction import psnr  # noqa: E402
from aekit.models import build_model  # noqa: E402

BATCH, LR = 64, 2e-3
BACKBONE = {k: swap.PAIRED_MODEL[k] for k in ("channels", "blocks_per_stage", "spatial_code", "code_size")}


def translator(source: torch.Tensor, target: torch.Tensor, epochs: float, seed: int = 0):
    """aekit's conv autoencoder trained to turn ``source`` images into their paired ``target`` images."""
    torch.manual_seed(seed)
    model = build_model("conv", {"input_shape": tuple(source.shape[1:]), **BACKBONE})
    steps = max(1, int(epochs * len(source) / BATCH))
    opt = torch.optim.Adam(model.parameters(), LR)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    done = 0
    while done < steps:
        for idx in torch.randperm(len(source), generator=gen).split(BATCH):
            loss = model.loss(source[idx], model(source[idx]), target=target[idx])["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            done += 1
            if done == steps:
                break
    return model.eval()


@torch.no_grad()
def translate(model, x: torch.Tensor) -> torch.Tensor:
    """Outputs rounded to 8 bits, as a written image holds them."""
    out = torch.cat([model(x[i : i + 500])["x_hat"] for i in range(0, len(x), 500)])
    return torch.round(out.clamp(0, 1) * 255) / 255


def content_judges(ids: list[str], judge_dir: str | None) -> dict:
    """identity -> the paired benchmark's content judge of it, with the stored paired result's settings (kept in
    ``judge_dir`` and reused from there), trained on the CPU."""
    opts = {"judge_train": swap.JUDGE_TRAIN, "judge_epochs": swap.JUDGE_EPOCHS, "n_eval": 1000,
            **swap.stored(RESULTS).get("paired", {}).get("options", {}), "train": {}, "judge_dir": judge_dir}
    return _paired.content_judges(ids, opts)[0]


def oracle(ids: list[str], epochs: float, n_eval: int, judges: dict) -> dict:
    mnist = load_dataset("mnist")
    grey = mnist.x_train[identity_share(ids[0], len(mnist.x_train))]
    train = {k: model_space(render(k, grey)) for k in ids}
    held = {k: model_space(render(k, mnist.x_test[:n_eval])) for k in ids}
    out, kept = {}, {}
    for a, b in product(ids, ids):
        start = time.perf_counter()
        made = translate(translator(train[a], train[b], epochs), held[a])
        out[f"{a}->{b}"] = float(psnr(held[b].double(), made.double()))
        drawn = (made * 255).round().byte().permute(0, 2, 3, 1).numpy()
        kept[f"{a}->{b}"] = float((predict(judges[b], drawn) == mnist.y_test[:n_eval]).mean())
        print(f"{a} -> {b}: {out[f'{a}->{b}']:.2f} dB, content kept {kept[f'{a}->{b}']:.4f} "
              f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    gaps = {f"{a}->{b}": out[f"{b}->{b}"] - out[f"{a}->{b}"] for a, b in product(ids, ids) if a != b}
    worst = max(gaps, key=gaps.get)
    swaps = {k: v for k, v in kept.items() if k.split("->")[0] != k.split("->")[1]}
    least = min(swaps, key=swaps.get)
    return {"psnr": out, "gap_db": gaps, "largest_gap_db": gaps[worst], "largest_gap_direction": worst,
            "content_kept": kept, "lowest_content_kept": swaps[least], "lowest_content_direction": least,
            "train_images": len(grey), "epochs": epochs, "eval": n_eval, "backbone": BACKBONE}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=float, default=swap.PAIRED_EPOCHS,
                   help="passes over the paired training digits")
    p.add_argument("--n-eval", type=int, default=1000, help="held-out MNIST test digits scored")
    p.add_argument("--judges", metavar="DIR", help="where swap.py --judges keeps the content judges (trained here "
                   "and kept there when it has none)")
    p.add_argument("--no-write", action="store_true", help="print only")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    judges = content_judges(list(IDENTITIES), a.judges)
    result = {**oracle(list(IDENTITIES), a.epochs, a.n_eval, judges), "seconds": round(time.perf_counter() - t0, 1),
              "machine": machine(), "argv": argv_text(argv or [])}
    if not a.no_write:
        write_result("swap", {**swap.stored(RESULTS), "paired_oracle": result})
    print(json.dumps({k: result[k] for k in ("largest_gap_db", "largest_gap_direction", "lowest_content_kept",
                                             "lowest_content_direction")}))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
