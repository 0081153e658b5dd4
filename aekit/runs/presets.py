"""Named recipes: a model, its config, a training config and the data they were made for."""

from __future__ import annotations

# The article's model exactly: Dense 784-128-32-128-784, relu (code too), sigmoid output, Keras's Glorot-uniform
# initialisation, Adam(lr=1e-3, eps=1e-7 as Keras), binary cross-entropy, batch 32, 3 epochs.
_ARTICLE_MODEL = {
    "hidden": [128],
    "code_size": 32,
    "activation": "relu",
    "code_activation": "relu",
    "output_activation": "sigmoid",
    "loss": "bce",
    "init": "glorot",
}

PRESETS: dict[str, dict] = {
    "seed": {
        "help": "the article's Keras autoencoder and training, exactly",
        "dataset": "mnist",
        "model": "dense",
        "config": _ARTICLE_MODEL,
        "train": {"epochs": 3, "batch_size": 32, "optimizer": "adam", "lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-7},
    },
    "fast": {
        # Found by a sweep of ~600 runs (batch 32..1024, lr, betas, schedules, epochs) on a 2-core CPU: batches of
        # 48-64 with a high peak lr, low beta1 and linear decay reach the seed's test BCE in half an epoch of
        # compute; larger batches cannot within 3 epochs (batch 256: BCE 0.096 at best).
        "help": "the same architecture with the recipe that reaches the seed's quality soonest",
        "dataset": "mnist",
        "model": "dense",
        "config": _ARTICLE_MODEL,
        "train": {"epochs": 1.5, "batch_size": 64, "optimizer": "adam", "lr": 7e-3, "betas": [0.7, 0.95], "eps": 1e-8,
                  "schedule": "linear", "warmup": 0.05},
    },
    "compress": {
        # A compressive autoencoder for MNIST: every quality level in one model (aekit.models.compress). bfloat16
        # autocast (the rate path stays float32) and channels_last make a CPU epoch about 1.6x faster than float32.
        "help": "a compressive autoencoder for `aekit compress` (rate and distortion trained together)",
        "dataset": "mnist",
        "model": "compress",
        "config": {},
        "train": {"epochs": 6, "batch_size": 128, "optimizer": "adam", "lr": 2e-3, "schedule": "cosine",
                  "warmup": 0.02, "grad_clip": 1.0, "precision": "bf16", "channels_last": True},
    },
    "conv": {
        # The recon benchmark's headline model (conv at code 32). Small batches with a high peak lr and bfloat16 +
        # channels_last (the same loss in about 40% of the time on a CPU) reached the lowest test MSE per second; a
        # subpixel head spares the full-size hidden layer (a third faster per step); for a 10-minute budget, three
        # blocks per stage at (48, 96) channels beat smaller and larger models.
        "help": "conv autoencoder (48/96 channels, batch norm, SiLU, subpixel head), code 32, bfloat16: the recon headline",
        "dataset": "mnist",
        "model": "conv",
        "config": {"channels": [48, 96], "blocks_per_stage": 3, "kernel_size": 3, "code_size": 32, "norm": "batch",
                   "activation": "silu", "head": "subpixel"},
        # Muon for the weights (aekit.training.optim): a lower test MSE than Adam in the same minutes, although its
        # steps cost about 20% more.
        "train": {"epochs": 12, "batch_size": 32, "optimizer": "muon", "lr": 8e-3, "eps": 1e-8, "schedule": "cosine",
                  "warmup": 0.02, "precision": "bf16", "channels_last": True},
    },
    "denoise": {
        # The Gaussian denoiser of benchmarks/denoise.py: MNIST at x + 0.5 * N(0, 1), clipped. No narrow code: two
        # stride-2 stages to a 7x7 map of 192 channels with U-Net skips (each decoder stage sees the encoder's
        # features: better at every epoch) and a subpixel head so no layer runs at 28x28. Muon as in `conv`: ahead of
        # Adam at every epoch. The PSNR curve is flat after about 40 epochs: longer training does not buy more.
        "help": "conv denoising autoencoder for MNIST-like digits at Gaussian noise 0.5 (train, then `aekit denoise`)",
        "dataset": "mnist",
        "model": "conv",
        "config": {"channels": [96, 192], "blocks_per_stage": 3, "kernel_size": 3, "norm": "batch",
                   "activation": "silu", "spatial_code": True, "code_size": 192, "head": "subpixel",
                   "skips": True},
        "train": {"epochs": 30, "batch_size": 64, "optimizer": "muon", "lr": 4e-3, "eps": 1e-8, "schedule": "cosine",
                  "warmup": 0.02, "precision": "bf16", "channels_last": True, "noise": "gaussian",
                  "noise_strength": 0.5},
    },
    "photo-denoise": {
        # A blind denoiser for the user's own photos and scans: trained on 64x64 crops of their images, each crop
        # corrupted with Gaussian noise of a strength drawn from 0 (clean) to 0.2 (51 of 255), so one model cleans
        # every level in that range and leaves clean images as they are. The decoder corrects its input (input_skip:
        # residual learning, as DnCNN), so detail need not pass the narrow code. MSE: photos are not binary like MNIST.
        # `aekit denoise` tiles any photo size. Sized for a laptop CPU: (64, 128) channels cost 3x the time a step.
        "help": "a blind denoiser for your photos and scans (pass --data): 64x64 patches, Gaussian noise 0-0.2, MSE",
        "dataset": None,
        "patches": [64, 64],
        "model": "conv",
        "config": {"channels": [32, 64], "blocks_per_stage": 2, "kernel_size": 3, "norm": "batch",
                   "activation": "silu", "spatial_code": True, "code_size": 64, "head": "subpixel", "skips": True,
                   "input_skip": True, "loss": "mse"},
        "train": {"epochs": 3, "min_steps": 1500, "batch_size": 32, "optimizer": "muon", "lr": 4e-3, "eps": 1e-8,
                  "schedule": "cosine", "warmup": 0.02, "precision": "bf16", "channels_last": True,
                  "noise": "gaussian", "noise_strength": 0.0, "noise_max": 0.2},
    },
}

# The training recipe a swap run starts from (every key can be overridden); batches always balance the domains.
SWAP_TRAIN = {"epochs": 5, "batch_size": 64, "lr": 2e-3, "eps": 1e-8, "schedule": "cosine", "warmup": 0.02}


def get_preset(name: str) -> dict:
    """A preset by name (a fresh copy the caller may change)."""
    import copy

    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return copy.deepcopy(PRESETS[name])
