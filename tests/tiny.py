"""Tiny model configs and helpers shared by several test modules (imported as ``tiny``: pytest puts tests/ on the
path)."""

from __future__ import annotations

# A compressive autoencoder small enough to train in seconds; three quality levels.
TINY_COMPRESS = {"input_shape": (1, 28, 28), "channels": (8, 16), "blocks_per_stage": 1, "bottleneck": (32,),
                 "code_size": 12, "prior_hidden": 24, "lambdas": (8.0, 64.0, 512.0), "default_level": 1}


def compress_train_args(data, out, epochs: str = "1") -> list[str]:
    """`aekit train` arguments for TINY_COMPRESS on an .npz of digits."""
    args = ["train", "--preset", "compress", "--data", str(data), "--out", str(out), "--epochs", epochs,
            "--batch-size", "64", "--no-progress"]
    for key, value in TINY_COMPRESS.items():
        if key != "input_shape":
            args += ["--set", f"{key}={list(value) if isinstance(value, tuple) else value}"]
    return args


def fit_batch(model, x, steps: int, lr: float = 3e-3) -> float:
    """``steps`` Adam steps of the model's own loss on one batch ``x``; returns the last step's loss."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = model.loss(x, model(x))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def assert_reloads_same(model, x, folder) -> None:
    """Save ``model`` as a run in ``folder``, load it back: same config, exactly the same outputs on ``x``."""
    import torch

    from aekit.runs import files as ckpt

    ckpt.save_model(folder, model, ckpt.run_config(model, {"normalizer": None}))
    loaded, _ = ckpt.load_model(folder)
    assert loaded.config == model.config and torch.equal(loaded(x)["x_hat"], model(x)["x_hat"])
