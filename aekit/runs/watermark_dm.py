"""The pixel watermark of small images: dither modulation, which the image itself cannot drown.

``aekit.runs.watermark`` adds a pattern to the image and reads it back by correlation, so the image's own content in
the mark's frequencies is noise to the reader; folding many tiles averages that noise away, but an image under
``2 * TILE`` pixels a side has one tile or less (at 64x64 it read back 10-30 % of marks, at 28x28 none:
benchmarks/marks.py). Here each coded bit instead sets the image's projection on a keyed pattern of its own to a
point of one of two interleaved lattices (spread-transform dither modulation, Chen and Wornell 2001, "Quantization
index modulation"): the reader finds the nearest lattice point, so the image's content costs nothing, and only what
happens to the image afterwards (JPEG, rounding) can move a projection by a quarter of the lattice step. The
patterns are disjoint sets of bins of the image's own 2-D Fourier grid, in a band of ``BAND`` cycles per pixel that
JPEG keeps, each bin with a keyed phase, so they are orthogonal and setting one projection leaves the others as they
were.

The step follows from the mark's PSNR: with every projection moved by at most half a step, uniformly, the mark's
energy is n step^2 / 12. Clipping at 0 and 255 and rounding to integers shift projections, so the embedder corrects
them ``ROUNDS`` times; what that and chance add to the energy can push the PSNR under its floor, and then the next of
``STEPS`` (a smaller step) is used; the reader tries each. The mark is read where it was written: it survives
metadata stripping and JPEG, not resizing or cropping (the spread-spectrum mark of larger images does).

    marked = embed(image, bits, 40.5, 40.0)      # None when the image has fewer bins in BAND than bits
    softs = soft_reads(marked, len(bits), 40.5)  # per step: each bit's evidence, positive for 0

On an image with no mark, the projections fall anywhere on the lattices, and the read word is as random as the
keyed dither; a flat image (every projection 0) reads one fixed word, the same at every size and step, which the
reader's code must refuse (tests/test_watermark.py checks that it does). Ink on black (a digit) clips most of
every correction: its mark takes a smaller step to stay above the PSNR floor and then rarely survives JPEG.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

BAND = (0.06, 0.25)  # radial frequency of the patterns' bins, cycles per pixel
STEPS = (1.0, 0.8, 0.64, 0.512)  # lattice steps tried, relative to the one the PSNR asks for
ROUNDS = 4  # corrections after clipping and rounding
KEY = b"aekit pixel watermark v1 dither modulation"


def _rng(label: bytes) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(KEY + label).digest()[:8], "little"))


def luminance(image: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of a uint8 (H, W) or (H, W, 3) image, as float."""
    img = image.astype(np.float64)
    return img if img.ndim == 2 else img[..., :3] @ np.array([0.299, 0.587, 0.114])


@lru_cache(maxsize=8)
def patterns(h: int, w: int, n: int) -> np.ndarray | None:
    """The n keyed unit-norm patterns (n, h * w) of an h x w image, each owning every n-th of the bins in ``BAND``
    (kx >= 1 and no Nyquist row or column: each bin is one real 2-D sinusoid, orthogonal to the others); None when
    there are fewer bins than n."""
    ky, kx = np.meshgrid(np.arange(-((h - 1) // 2), h // 2 + 1), np.arange(1, (w + 1) // 2), indexing="ij")
    ky, kx = ky.ravel(), kx.ravel()
    radius = np.hypot(ky / h, kx / w)
    keep = (radius >= BAND[0]) & (radius <= BAND[1]) & (2 * np.abs(ky) != h)
    if keep.sum() < n:
        return None
    rng = _rng(f"layout {h}x{w}".encode())
    order = rng.permutation(int(keep.sum()))
    ky, kx = ky[keep][order], kx[keep][order]
    phase = rng.uniform(0, 2 * np.pi, len(ky))
    owner = np.arange(len(ky)) % n
    out = np.empty((n, h * w))
    for i in range(n):
        spec = np.zeros((h, w // 2 + 1), complex)
        spec[ky[owner == i] % h, kx[owner == i]] = np.exp(1j * phase[owner == i])
        p = np.fft.irfft2(spec, s=(h, w)).ravel()
        out[i] = p / np.linalg.norm(p)
    out.setflags(write=False)  # cached: shared by every call
    return out


def step(h: int, w: int, n: int, psnr_db: float) -> float:
    """The lattice step at which n projections moved uniformly within half a step give an h x w image's mark the
    PSNR ``psnr_db``."""
    mse = 255.0**2 * 10 ** (-psnr_db / 10)
    return float(np.sqrt(12 * mse * h * w / n))


def _dither(n: int) -> np.ndarray:
    """Each bit's keyed lattice offset, in steps."""
    return _rng(b"dither").uniform(0, 1, n)


def _offsets(n: int, delta: float, bits: np.ndarray) -> np.ndarray:
    """Each bit's lattice offset: its dither, plus half a step for a 1."""
    return (_dither(n) + 0.5 * bits) * delta


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255**2 / mse))


def _write(image: np.ndarray, bits: np.ndarray, delta: float, p: np.ndarray) -> np.ndarray:
    """``image`` with each projection on ``p`` moved to its bit's lattice (of step ``delta``), the same amount added
    to every channel; clipped and rounded, and corrected ``ROUNDS`` times for what that moved."""
    h, w = image.shape[:2]
    original, out, total = image.astype(np.float64), image, np.zeros(h * w)
    offsets = _offsets(len(bits), delta, bits)
    channels = (np.arange(image.shape[2]) < 3).astype(float) if image.ndim == 3 else 1.0  # R, G, B: not alpha
    for _ in range(ROUNDS):
        s = p @ luminance(out).ravel()
        total += (np.round((s - offsets) / delta) * delta + offsets - s) @ p
        change = total.reshape(h, w) if image.ndim == 2 else total.reshape(h, w, 1) * channels
        out = np.clip(np.rint(original + change), 0, 255).astype(np.uint8)
    return out


def embed(image: np.ndarray, bits: np.ndarray, psnr_db: float, floor_db: float) -> np.ndarray | None:
    """``image`` (uint8, (H, W) or (H, W, 3)) carrying ``bits`` (0/1), at the largest of ``STEPS`` whose PSNR is at
    least ``floor_db`` (the step for ``psnr_db`` first; the smallest when none is); None when it has too few bins."""
    h, w = image.shape[:2]
    p = patterns(h, w, len(bits))
    if p is None:
        return None
    base = step(h, w, len(bits), psnr_db)
    for scale in STEPS:
        out = _write(image, np.asarray(bits), base * scale, p)
        if _psnr(image, out) >= floor_db:
            break
    return out


def soft_reads(image: np.ndarray, n: int, psnr_db: float) -> list[np.ndarray]:
    """For each of ``STEPS``, the evidence for each of n bits in ``image`` as marked (its distance to the 1-lattice
    less its distance to the 0-lattice, in steps: positive for 0); empty when the image has too few bins."""
    h, w = image.shape[:2]
    p = patterns(h, w, n)
    if p is None:
        return []
    s, base, dither = p @ luminance(image).ravel(), step(h, w, n, psnr_db), _dither(n)
    out = []
    for scale in STEPS:
        u = s / (base * scale) - dither  # each projection on the 0-lattice, in steps; the 1-lattice is half a step on
        out.append(np.abs(u % 1 - 0.5) - np.abs((u + 0.5) % 1 - 0.5))
    return out
