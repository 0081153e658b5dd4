"""A small learned prior over a VQ-VAE's code maps, so the VQ-VAE can generate.

The code map (h, w) of codebook indices is read in raster order and modelled autoregressively by a tiny causal
transformer (the role PixelCNN plays in van den Oord et al. 2017). It is trained on the training split's code maps
the first time a run generates, and kept beside the model as ``prior.safetensors`` (tied to the weights'
fingerprint).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aekit.errors import AekitError
from aekit.models.inference import in_batches
from aekit.runs import files as ckpt
from aekit.runs.run import Run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PriorConfig:
    codebook_size: int  # K: the vocabulary
    length: int  # h * w positions per code map
    d_model: int = 64
    layers: int = 2
    heads: int = 4


class CodePrior(nn.Module):
    """p(i_1..i_L) = prod_t p(i_t | i_<t): token + position embeddings, causal transformer, logits over K."""

    def __init__(self, cfg: PriorConfig):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.codebook_size + 1, cfg.d_model)  # index K is the start token
        self.pos = nn.Parameter(torch.zeros(cfg.length, cfg.d_model))
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.heads, 4 * cfg.d_model, dropout=0.0, batch_first=True)
        self.body = nn.TransformerEncoder(layer, cfg.layers)
        self.head = nn.Linear(cfg.d_model, cfg.codebook_size)
        self.register_buffer("mask", torch.triu(torch.full((cfg.length, cfg.length), float("-inf")), 1),
                             persistent=False)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """seq (B, L) indices -> logits (B, L, K) for each position given the ones before it."""
        start = torch.full_like(seq[:, :1], self.cfg.codebook_size)
        inp = torch.cat([start, seq[:, :-1]], 1)  # (B, L): shifted right
        t = inp.shape[1]
        h = self.tok(inp) + self.pos[:t]
        return self.head(self.body(h, mask=self.mask[:t, :t], is_causal=True))

    @torch.no_grad()
    def sample(self, n: int, shape: tuple[int, int], generator: torch.Generator | None = None) -> torch.Tensor:
        """n code maps (n, h, w), drawn position by position."""
        self.eval()
        seq = torch.zeros(n, 0, dtype=torch.long)
        for t in range(self.cfg.length):
            padded = torch.cat([seq, torch.zeros(n, 1, dtype=torch.long)], 1)  # the last slot is ignored (causal)
            probs = F.softmax(self(padded)[:, t], -1)
            seq = torch.cat([seq, torch.multinomial(probs, 1, generator=generator)], 1)
        return seq.view(n, *shape)


def fit_prior(maps: torch.Tensor, codebook_size: int, epochs: int = 3, batch_size: int = 128, lr: float = 2e-3,
              seed: int = 0) -> CodePrior:
    """Train a CodePrior on code maps (N, h, w) by maximum likelihood."""
    torch.manual_seed(seed)
    seqs = maps.flatten(1)
    prior = CodePrior(PriorConfig(codebook_size, seqs.shape[1]))
    opt = torch.optim.AdamW(prior.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * ((len(seqs) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    prior.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(seqs), generator=gen)
        total = 0.0
        for i in range(0, len(seqs), batch_size):
            batch = seqs[perm[i : i + batch_size]]
            loss = F.cross_entropy(prior(batch).flatten(0, 1), batch.flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(batch)
        log.info("code prior epoch %d: %.3f nats per code", epoch + 1, total / len(seqs))
    return prior.eval()


@torch.no_grad()
def code_prior(run: Run, seed: int = 0, max_fit: int = 20_000):
    """The run's prior over code maps, with a ``sample(n, generator)`` that returns (n, h, w): loaded or trained."""
    model, fp = run.model, run.fingerprint
    path = run.path / ckpt.PRIOR
    prior = None
    if path.exists():
        tensors, meta = ckpt.load_tensors(path)
        if meta and meta.get("fingerprint") == fp:
            try:
                prior = CodePrior(PriorConfig(**meta["config"]))
            except TypeError:
                raise AekitError(f"{path} has a bad prior config") from None
            ckpt.load_state_dict_checked(prior, tensors, path)
            shape = tuple(meta["shape"])
    if prior is None:
        x = torch.from_numpy(run.normalizer.transform(run.dataset().x_train[:max_fit]))
        model.eval()
        maps = in_batches(model.encode_indices, x, 1024)
        shape = tuple(maps.shape[1:])
        log.warning("training a prior over %d code maps of %s (once: it is kept in %s for later calls)", len(maps),
                    run.path.name, path.name)
        with torch.enable_grad():
            prior = fit_prior(maps, model.config.codebook_size, seed=seed)
        ckpt.save_tensors(path, prior.state_dict(), {"fingerprint": fp, "config": asdict(prior.cfg),
                                                     "shape": list(shape)})
    return _Sampler(prior, shape)


class _Sampler:
    def __init__(self, prior: CodePrior, shape: tuple[int, int]):
        self.prior, self.shape = prior, shape

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.prior.sample(n, self.shape, generator)
