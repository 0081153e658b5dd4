"""``run_info``: what a run folder holds, described without trusting it (``aekit info``)."""

from __future__ import annotations

import json
from pathlib import Path

from aekit.errors import AekitError
from aekit.runs import files as ckpt


def run_info(run: str | Path) -> dict:
    """What a run folder holds: model, sizes, data, training, progress, fingerprint."""
    run = Path(run)
    cfg = ckpt.read_run_config(run)
    weights = next((run / f for f in (ckpt.WEIGHTS, ckpt.STATE) if (run / f).is_file()), None)  # bounds the size
    model = ckpt.build_from_config(cfg, run / ckpt.CONFIG, weights=weights)
    hist = ckpt.read_metrics(run)
    info = {"run": str(run), "aekit": cfg.get("aekit"), "model": cfg["model"], "config": cfg["config"],
            "parameters": sum(p.numel() for p in model.parameters()),
            "data": {k: v for k, v in (cfg.get("data") or {}).items() if k != "normalizer"},
            "train": cfg.get("train"), "epochs_done": ckpt.epochs_done(hist), "last_epoch": hist[-1] if hist else None}
    info["weights"] = "missing"  # a run still training has only its checkpoint
    if (run / ckpt.WEIGHTS).exists():
        info["fingerprint"] = ckpt.fingerprint(run / ckpt.WEIGHTS)
        try:
            ckpt.load_state_dict_checked(model, ckpt.load_tensors(run / ckpt.WEIGHTS)[0], run / ckpt.WEIGHTS)
            info["weights"] = "ok"
        except AekitError as e:
            info["weights"] = f"unusable: {e}"
    if (run / ckpt.EVAL).exists():
        try:
            info["eval"] = json.loads((run / ckpt.EVAL).read_text())
        except (OSError, ValueError) as e:  # UnicodeDecodeError is a ValueError
            info["eval"] = f"unreadable: {e.__class__.__name__}"
    return info
