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
        # A compressive autoencoder for MNIST: every quality level in one model (aekit.models.compress). The recipe
        # benchmarks/compress.py measured on a GPU (20 epochs in 110 s there, float32). bfloat16 autocast (the rate
        # path stays float32) + channels_last: 162 s/epoch on one CPU thread against 265 s in float32 (40-s probes);
        # 19 epochs in 3000 s on one thread gave the model of the compress section of BENCHMARKS.md.
        "help": "a compressive autoencoder for `aekit compress` (rate and distortion trained together)",
        "dataset": "mnist",
        "model": "compress",
        "config": {},
        "train": {"epochs": 6, "batch_size": 128, "optimizer": "adam", "lr": 2e-3, "schedule": "cosine",
                  "warmup": 0.02, "grad_clip": 1.0, "precision": "bf16", "channels_last": True},
    },
    "conv": {
        # Issue 3's headline (benchmarks/recon.py, conv at code 32). One-epoch probes on a 2-core CPU (test MSE; 1
        # thread): batch 128 lr 2e-3 0.00656; bfloat16 autocast + channels_last the same 0.00656 in 42% of the time;
        # lr 4e-3 0.00557, 8e-3 0.00500; batch 64 at 4e-3 0.00438, at 8e-3 0.00396, at 1.6e-2 0.00376; batch 32 at
        # 4e-3 0.00373, at 8e-3 0.00343 (about the same seconds per epoch as batch 64 on one thread). MSE loss, residual
        # blocks, nearest-upsampling, a third stage, wider (32, 96) or an MLP bottleneck did not beat that per second.
        # 150-s runs (full schedule via time_limit, 1 thread, two at a time): this recipe 0.00274; lr 1.2e-2 0.00273;
        # MSE loss 0.00280; 3 blocks per stage 0.00280; (48, 96) channels 0.00304; a full-resolution stem 0.00293;
        # on 2 threads this recipe 0.00255 vs batch 64 at lr 1.6e-2 0.00262.
        # Session 8: a subpixel head (no hidden layer at 28x28; it held 42% of the elementwise work) takes 28.5 ms per
        # step against 44.9 (two 1-thread runs side by side): 150 s 0.00281 vs 0.00300; then with ReLU 0.00278, 3
        # blocks per stage 0.00280, (48, 64) channels 0.00278, a 5x5 head 0.00286; 300 s SiLU 0.00247, ReLU 0.00259.
        # A 10-minute budget favours a bigger model than 150-s probes pick: 590 s, 1 thread, side by side: 2 blocks
        # per stage 0.00228 (11.3 epochs), 3 blocks 0.00217 (8.3 epochs); then 3 blocks at (48, 96) 0.00217 (5.3
        # epochs), 4 residual blocks 0.00239. Headlines (590 s, 2 threads): 3 blocks at (32, 64) 0.00209 (11.2 epochs),
        # at (48, 96) 0.00202 (8.1 epochs; 1.37x the time per step), at (64, 128) 0.00211 (4.9 epochs);
        # (48, 96) with linear decay 0.00205 (7.0 epochs: a slower hour of the machine; at epoch 7 cosine had 0.00206).
        "help": "conv autoencoder (48/96 channels, batch norm, SiLU, subpixel head), code 32, bfloat16: the recon headline",
        "dataset": "mnist",
        "model": "conv",
        "config": {"channels": [48, 96], "blocks_per_stage": 3, "kernel_size": 3, "code_size": 32, "norm": "batch",
                   "activation": "silu", "head": "subpixel"},
        # Session 16: Muon for the weights (aekit.training.optim), same lr: 590 s side by side on 1 thread each, 0.00207 against
        # Adam's 0.00239 (3 vs 4 epochs: Muon's steps cost ~20% more here).
        "train": {"epochs": 12, "batch_size": 32, "optimizer": "muon", "lr": 8e-3, "eps": 1e-8, "schedule": "cosine",
                  "warmup": 0.02, "precision": "bf16", "channels_last": True},
    },
    "denoise": {
        # Issue 4's Gaussian denoiser (benchmarks/denoise.py): MNIST at x + 0.5 * N(0, 1), clipped. No narrow code: two
        # stride-2 stages to a 7x7 map of 192 channels, and a subpixel head so no layer runs at 28x28. 600-s probes
        # (1 thread each, two side by side; PSNR on the last 1000 training digits, trained on the other 59k): the old
        # benchmark model (64 channels at 14x14, a 2-conv full-size stem; bf16) 20.65 dB after 2.5 epochs; one stage
        # of 96 (4 convs, subpixel) 20.83 after 4.7, at batch 64 lr 4e-3 21.00; (64, 128) 20.93, at batch 64 21.12
        # after 4.8; (96, 192) at batch 64 21.00 after 2.9 epochs (but 20.84 at epoch 2 against 20.67 for (64, 128):
        # better per epoch, so better for a long run), at batch 32 lr 6e-3 20.96 after 2.2; (128, 256) 20.83 after 1.6.
        # 70 minutes on 2 threads (28.4 epochs): 21.75 dB on 1000 test digits; 120 minutes (54 epochs, benchmarks/
        # denoise.py --name denoise-cpu): 21.82, the curve flat from epoch 40 (21.77): longer training is not the way
        # to 22 dB for this model. Session 11: U-Net skips (ConvConfig.skips) 21.37 vs 21.14 in 600-s probes (MSE
        # loss 21.12, a per-image log-MSE loss 21.08, skips + 7x7 self-attention 21.02); 100 minutes with skips
        # (--name denoise-skips): 21.91 dB. Sessions 17-18: Muon as in the conv preset, ahead at every epoch of a
        # shorter schedule (test PSNR at epochs 5/10/15/20 of a 46-epoch run: 21.57/21.73/21.81/21.84 against Adam's
        # 21.28 at 4, 21.56 at 8, 21.65 at 12, 21.80 at 20 of a 33-epoch one; salt-and-pepper after 3 epochs 30.83 dB
        # against 29.41) and level after 95 minutes (--name denoise-muon: 21.92); (128, 256) with code 256: 21.94.
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
}

# The training recipe a swap run starts from (every key can be overridden); batches always balance the domains.
SWAP_TRAIN = {"epochs": 5, "batch_size": 64, "lr": 2e-3, "eps": 1e-8, "schedule": "cosine", "warmup": 0.02}


def get_preset(name: str) -> dict:
    """A preset by name (a fresh copy the caller may change)."""
    import copy

    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return copy.deepcopy(PRESETS[name])
