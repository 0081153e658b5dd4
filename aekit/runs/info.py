"""``run_info``: what a run folder holds, described without trusting it (``aekit info``)."""

from __future__ import annotations

import json
from pathlib import Path

from aekit.errors import AekitError
from aekit.runs import files as ckpt


def run_info(run: str | Path) -> dict:
    """What a run folder holds: model, sizes, data, training, progress, fingerprint; whether its weights load and
    match the checksum recorded when they were written (``weights``, ``checksum``), and whether its checkpoint
    does (``checkpoint``)."""
    run = Path(run)
    cfg = ckpt.read_run_config(run)
    weights = next((run / f for f in (ckpt.WEIGHTS, ckpt.STATE) if (run / f).is_file()), None)  # bounds the size
    model = ckpt.build_from_config(cfg, run / ckpt.CONFIG, weights=weights)
    hist = ckpt.read_metrics(run)
    info = {"run": str(run), "aekit": cfg.get("aekit"), "model": cfg["model"], "config": cfg["config"],
            "parameters": sum(p.numel() for p in model.parameters()),
            "data": {k: v for k, v in (cfg.get("data") or {}).items() if k != "normalizer"},
            "train": cfg.get("train"), "epochs_done": ckpt.epochs_done(hist), "last_epoch": hist[-1] if hist else None}
    info.update(_weights(model, run / ckpt.WEIGHTS))
    if (run / ckpt.STATE).exists():
        info["checkpoint"] = _checked(run / ckpt.STATE)
    if (run / ckpt.EVAL).exists():
        try:
            info["eval"] = json.loads((run / ckpt.EVAL).read_text())
        except (OSError, ValueError) as e:  # UnicodeDecodeError is a ValueError
            info["eval"] = f"unreadable: {e.__class__.__name__}"
    return info


def _weights(model, path: Path) -> dict:
    """``weights``: "ok", "missing" (a run still training has only its checkpoint) or "unusable: why"; with them,
    their ``fingerprint`` and ``checksum``: "verified", "not recorded" (an older aekit's run) or "mismatch"."""
    if not path.exists():
        return {"weights": "missing"}
    out = {"weights": "ok", "fingerprint": ckpt.fingerprint(path),
           "checksum": "verified" if ckpt.checksum_recorded(path) else "not recorded"}
    try:
        ckpt.load_state_dict_checked(model, ckpt.load_tensors(path)[0], path)  # the checksum is checked first
    except ckpt.ChecksumMismatch as e:
        out.update(weights=f"unusable: {e}", checksum="mismatch")
    except AekitError as e:
        out["weights"] = f"unusable: {e}"
    return out


def _checked(path: Path) -> str:
    """A checkpoint's checksum, checked without loading it: "checksum verified", "checksum not recorded" or
    "unusable: why"."""
    try:
        return f"checksum {'verified' if ckpt.verify_checksum(path) else 'not recorded'}"
    except ckpt.ChecksumMismatch as e:
        return f"unusable: {e}"
