"""An invisible watermark in the pixels of images a model made: it survives metadata stripping, JPEG, resizing and
cropping, and carries a short payload that ``aekit inspect`` decodes.

Payload: a fixed tag (``TAG_BITS`` bits that say "aekit made this") and the first ``PREFIX_HEX`` hex digits of the
model's weights fingerprint, protected by a BCH code (``aekit.runs.bch``) that corrects ``CODE.t`` of its ``CODE.n``
bits. Each coded bit, and a pilot for synchronisation, owns a keyed random set of frequency bins of a ``TILE`` x
``TILE`` tile, in a ring of low and middle frequencies (``BAND``, cycles per tile) that JPEG keeps and a 50 %
resize does not alias; each bin has a keyed random phase and the sign of its bit. The tile, repeated over the image,
is added to the luminance (the same amount to R, G and B), scaled by a local-activity mask (more in texture, less in
flat areas) and then as a whole so that the mark's PSNR is ``PSNR_DB``. The embedder then reads its own mark, as
written and after a JPEG re-save, and moves energy to the coded bits (and the pilot) that the image itself works
against (informed embedding, ``embed``). An image under ``DITHER_BELOW`` pixels a side (not a long strip) has too
little of the tile to fold for this mark to be read back; it carries the dither-modulation mark of
``aekit.runs.watermark_dm`` instead (the same payload and code, read where it was written: it survives stripping
and JPEG, not resizing or cropping).

Detection (``detect``) folds the luminance into one tile (every pixel added to the tile at its position modulo the
tile size: a crop only shifts the tile cyclically), for each candidate scale in ``SCALES`` (a 50 % resize halves the
tile), whitens the tile's spectrum by the host's power, finds the shift by correlating with the pilot at half-pixel
steps, reads the coded bits at the ``PEAKS`` strongest pilot peaks and decodes them. It reports a mark only when the
BCH decoding succeeds and the tag matches.

False positives: on an image without a mark, given the keyed random phases, the data bins are independent of the
pilot bins that chose the shift, so the read word is uniformly random; it is accepted with probability
``CODE.accept_probability() * 2^-TAG_BITS`` per attempt, and there are ``len(SCALES) * PEAKS`` attempts, and on a
small image one more per step of the dither-modulation mark (its keyed dither makes an unmarked image's read word
as random; ``false_positive_bound``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from aekit.data.images import jpeg_round_trip
from aekit.runs import watermark_dm
from aekit.runs.bch import BCH
from aekit.runs.watermark_dm import luminance

TILE = 64
BAND = (8.0, 15.5)  # radial frequency, cycles per tile: under TILE * min(SCALES) / 2, the smallest tile's Nyquist
PILOT_SHARE = 0.2  # of the bins
CODE = BCH(6, 5)  # n = 63, k = 36, corrects 5 errors
PREFIX_HEX = 5  # fingerprint digits in the payload (20 bits)
TAG_BITS = CODE.k - 4 * PREFIX_HEX
SCALES = (1.0, 0.5, 0.75, 1.5, 2.0)  # the image's size relative to the one marked
PEAKS = 2  # pilot peaks tried per scale
CHASE = 3  # the least reliable coded bits whose every flip is tried (Chase 1972): 2^CHASE words per peak
PSNR_DB = 40.5
KEY = b"aekit pixel watermark v1"
UPSAMPLE = 2  # shifts searched in steps of 1/UPSAMPLE pixel
MASK_FLOOR = 0.5  # the mask in the flattest areas, relative to its mean
MASK_POWER = 0.25  # the mask grows as the local standard deviation to this power
EMPHASIS = 0.0  # a bin's amplitude grows as its radial frequency to this power (the host is weaker there)
ROUNDS = 6  # informed embedding: marks tried at most
MARGIN = 3.0  # a coded bit's read, in units of the read's noise, that needs no more energy
PILOT_CLEAR = 1.25  # the pilot's peak over the next highest, both above the surface's mean, that needs no more energy
CHECK_JPEG = 75  # the JPEG quality the embedder checks its mark against
INFORMED_FROM = 2 * TILE  # the shorter side from which the embedder checks its mark (measured: at 64x64 the checks
# cost recovery, 9.3 -> 6.0 % of 150 upscaled samples after stripping; at 128x128 they gain, 61 -> 64 % of real crops)
DITHER_BELOW = 2 * TILE  # a shorter side under this, and at most its square in pixels: the dither-modulation mark
# (``watermark_dm``), where it fits
PSNR_FLOOR_DB = 40.0  # the dither-modulation mark's lowest PSNR (its energy varies from image to image)


@dataclass(frozen=True)
class Layout:
    """Which bins carry what: ``ky``, ``kx`` (frequency indices, cycles per tile, kx >= 1), ``phase`` per bin, and
    ``owner`` per bin: -1 for the pilot, else the coded bit it carries."""

    ky: np.ndarray
    kx: np.ndarray
    phase: np.ndarray
    owner: np.ndarray


def _rng(label: bytes) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(KEY + label).digest()[:8], "little"))


@lru_cache(maxsize=1)
def layout() -> Layout:
    """The keyed layout of bins (the same for every image)."""
    r = np.arange(-TILE // 2 + 1, TILE // 2)
    ky, kx = np.meshgrid(r, np.arange(1, TILE // 2), indexing="ij")
    radius = np.hypot(ky, kx)
    keep = (radius >= BAND[0]) & (radius <= BAND[1])
    ky, kx = ky[keep], kx[keep]
    rng = _rng(b"layout")
    order = rng.permutation(len(ky))
    ky, kx = ky[order], kx[order]
    n_pilot = int(round(PILOT_SHARE * len(ky)))
    owner = np.concatenate([np.full(n_pilot, -1), np.arange(len(ky) - n_pilot) % CODE.n])
    lay = Layout(ky, kx, rng.uniform(0, 2 * np.pi, len(ky)), owner)
    for a in (lay.ky, lay.kx, lay.phase, lay.owner):
        a.setflags(write=False)  # cached: shared by every call
    return lay


def tag_bits() -> list[int]:
    return [int(b) for b in _rng(b"tag").integers(0, 2, TAG_BITS)]


def payload_bits(fingerprint: str | None) -> list[int]:
    """The message: the tag, then the fingerprint's first PREFIX_HEX hex digits (zeros when there is none)."""
    prefix = (fingerprint or "")[:PREFIX_HEX].ljust(PREFIX_HEX, "0")
    value = int(prefix, 16)
    return tag_bits() + [(value >> (4 * PREFIX_HEX - 1 - i)) & 1 for i in range(4 * PREFIX_HEX)]


def _whitening() -> np.ndarray:
    """Keyed bits XORed onto the codeword, so that a blank read (all bits 0) is no codeword."""
    return _rng(b"whiten").integers(0, 2, CODE.n)


def amplitude(lay: Layout) -> np.ndarray:
    """Each bin's amplitude in the tile (before scaling to PSNR_DB)."""
    return np.hypot(lay.ky, lay.kx) ** EMPHASIS


def on_air(fingerprint: str | None) -> np.ndarray:
    """The coded bits as the bins carry them: the payload's BCH codeword XOR the whitening."""
    return np.array(CODE.encode(payload_bits(fingerprint))) ^ _whitening()


def tile(fingerprint: str | None, weights: np.ndarray | None = None, pilot: float = 1.0) -> np.ndarray:
    """The TILE x TILE pattern (unit RMS) that carries ``fingerprint``'s payload; ``weights`` (one per coded bit)
    and ``pilot`` scale the amplitudes of the bins they own."""
    lay = layout()
    coded = on_air(fingerprint)
    sign = np.where(lay.owner < 0, 1.0, 1.0 - 2.0 * coded[np.maximum(lay.owner, 0)])
    weight = np.where(lay.owner < 0, pilot, (np.ones(CODE.n) if weights is None else weights)[np.maximum(lay.owner, 0)])
    spec = np.zeros((TILE, TILE // 2 + 1), complex)
    spec[lay.ky % TILE, lay.kx] = sign * weight * amplitude(lay) * np.exp(1j * lay.phase)
    pattern = np.fft.irfft2(spec, s=(TILE, TILE))
    return pattern / pattern.std()


def _box(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges replicated."""
    p = np.pad(a, r, mode="edge")
    c = np.pad(p.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    s = 2 * r + 1
    return (c[s:, s:] - c[:-s, s:] - c[s:, :-s] + c[:-s, :-s]) / s**2


def mask(luma: np.ndarray) -> np.ndarray:
    """Local activity (the standard deviation in a 7x7 window), mean 1, at least MASK_FLOOR."""
    std = np.sqrt(np.maximum(_box(luma**2, 3) - _box(luma, 3) ** 2, 0))
    if std.mean() <= 1e-9:
        return np.ones_like(luma)
    m = np.maximum((std / std.mean()) ** MASK_POWER, MASK_FLOOR)
    return m / m.mean()


def _paint(image: np.ndarray, pattern: np.ndarray, psnr_db: float) -> np.ndarray:
    """``image`` with ``pattern`` (H, W) added to its luminance, scaled to ``psnr_db``. Pixels at 0 or 255 clip part
    of the mark away; the gain is raised (twice, at most 2x) to put that energy back elsewhere."""
    target = 255.0 * 10 ** (-psnr_db / 20)
    gain = target / max(np.sqrt(np.mean(pattern**2)), 1e-12)
    original = image.astype(np.float64)
    for _ in range(3):
        delta = pattern * gain
        out = np.clip(original + (delta if image.ndim == 2 else delta[..., None]), 0, 255)
        kept = np.sqrt(np.mean((out - original) ** 2))
        gain *= min(target / max(kept, 1e-9), 2.0)
    return np.rint(out).astype(np.uint8)


def read_at_origin(image: np.ndarray, fingerprint: str | None) -> tuple[np.ndarray, bool]:
    """How the detector reads a freshly marked image where the mark was put (scale 1, no shift): each coded bit's
    margin in units of the read's noise (its quadrature part; negative: the bit reads wrong), and whether the
    pilot's peak there stands clearly (PILOT_CLEAR times) above every other peak."""
    lay, m = layout(), UPSAMPLE * TILE
    folded, power = fold(luminance(image), TILE)
    z = weigh(folded, power, lay, TILE)
    data = lay.owner >= 0
    read = np.bincount(lay.owner[data], weights=np.real(z[data]), minlength=CODE.n)
    noise = np.bincount(lay.owner[data], weights=np.imag(z[data]), minlength=CODE.n)
    margin = read * (1 - 2 * on_air(fingerprint)) / max(np.sqrt(np.mean(noise**2)), 1e-12)
    surface = pilot_surface(z, lay, m)
    near = np.arange(-UPSAMPLE, UPSAMPLE + 1) % m
    rest = surface.copy()
    rest[np.ix_(near, near)] = -np.inf
    clear = surface[np.ix_(near, near)].max() - surface.mean() >= PILOT_CLEAR * (rest.max() - surface.mean())
    return margin, bool(clear)


def embed(image: np.ndarray, fingerprint: str | None, psnr_db: float = PSNR_DB) -> np.ndarray:
    """``image`` (uint8, (H, W) or (H, W, 3)) with the mark added to its luminance at ``psnr_db``.

    Informed embedding (the embedder knows the image, as in Cox, Miller and Bloom's informed watermarking): up to
    ROUNDS times, the marked image, as it is and after a JPEG re-save at CHECK_JPEG, is read where the mark was put;
    coded bits whose margin is under MARGIN (the host works against them) get more of the mark's energy and the
    others less, and the pilot more when its peak is not clear. The PSNR stays ``psnr_db``. Images with a side
    under INFORMED_FROM are marked once, without the checks; small ones (``_small``), with the dither-modulation
    mark instead (``watermark_dm``: at least PSNR_FLOOR_DB, or as far under ``psnr_db``), when they have the bins
    for it."""
    h, w = image.shape[:2]
    if _small(h, w):  # its lattice steps are PSNR_DB's, which the reader knows; ``psnr_db`` moves its floor
        small = watermark_dm.embed(image, on_air(fingerprint), PSNR_DB, psnr_db - (PSNR_DB - PSNR_FLOOR_DB))
        if small is not None:
            return small
    luma = luminance(image)
    reps, local = (-(-h // TILE), -(-w // TILE)), mask(luma)
    weights, pilot = np.ones(CODE.n), 1.0
    rounds = ROUNDS if min(h, w) >= INFORMED_FROM else 1
    for done in range(1, rounds + 1):
        out = _paint(image, np.tile(tile(fingerprint, weights, pilot), reps)[:h, :w] * local, psnr_db)
        if done == rounds:
            break
        reads = [read_at_origin(out, fingerprint), read_at_origin(jpeg_round_trip(out, CHECK_JPEG), fingerprint)]
        worst = np.minimum(reads[0][0], reads[1][0])
        weak, clear = worst < MARGIN, reads[0][1] and reads[1][1]
        if not weak.any() and clear:
            break
        weights[weak] *= np.clip(MARGIN / np.maximum(worst[weak], MARGIN / 4), 1.0, 2.0) ** 0.7
        weights /= np.sqrt(np.mean(weights**2))  # the data bits share what they had: the pilot keeps its share
        pilot *= 1.0 if clear else 1.3
    return out


@dataclass(frozen=True)
class Detection:
    """A mark found: the fingerprint prefix it carries, the scale and shift (pixels) it was read at, the pilot's
    peak in standard deviations of the correlation surface (NaN for the dither-modulation mark, which has no pilot),
    and how many coded bits the code corrected."""

    fingerprint_prefix: str
    scale: float
    shift: tuple[float, float]
    pilot_z: float
    corrected: int


def fold(luma: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The rfft2 spectrum of the luminance folded into one ``size`` x ``size`` tile (the sum of its tiles, a partial
    tile padded with zeros), and the summed power of the tiles' own spectra (the host's power per bin)."""
    y = luma - luma.mean()
    h, w = y.shape
    padded = np.zeros((-(-h // size) * size, -(-w // size) * size))
    padded[:h, :w] = y
    tiles = padded.reshape(padded.shape[0] // size, size, padded.shape[1] // size, size).swapaxes(1, 2)
    spectra = np.fft.rfft2(tiles.reshape(-1, size, size))
    return spectra.sum(0), (np.abs(spectra) ** 2).sum(0)


def _peaks(surface: np.ndarray, count: int, radius: int) -> list[tuple[int, int]]:
    """The ``count`` highest points of a cyclic surface, each at least ``radius`` from the others."""
    s, found = surface.copy(), []
    for _ in range(count):
        dy, dx = np.unravel_index(np.argmax(s), s.shape)
        found.append((int(dy), int(dx)))
        ys, xs = (np.arange(dy - radius, dy + radius + 1) % s.shape[0], np.arange(dx - radius, dx + radius + 1)
                  % s.shape[1])
        s[np.ix_(ys, xs)] = -np.inf
    return found


def _refine(surface: np.ndarray, peak: tuple[int, int]) -> tuple[float, float]:
    """The peak's position to a fraction of a step: a parabola through it and its two neighbours, per axis."""
    out = []
    for axis, p in enumerate(peak):
        at = list(peak)
        values = []
        for d in (-1, 0, 1):
            at[axis] = (p + d) % surface.shape[axis]
            values.append(surface[tuple(at)])
        curve = values[0] - 2 * values[1] + values[2]
        out.append(p + (0.5 * (values[0] - values[2]) / curve if curve < 0 else 0.0))
    return out[0], out[1]


def _soft(z: np.ndarray, lay: Layout, shift: tuple[float, float], m: int) -> np.ndarray:
    """Each coded bit's evidence at one shift (``shift`` in steps of ``m``, the surface's size): positive for 0."""
    ramp = np.exp(2j * np.pi * (lay.ky * shift[0] + lay.kx * shift[1]) / m)
    data = lay.owner >= 0
    soft = np.bincount(lay.owner[data], weights=np.real(z[data] * ramp[data]), minlength=CODE.n)
    return np.where(_whitening() == 1, -soft, soft)


def _decode(soft: np.ndarray) -> tuple[list[int], int] | None:
    """The tagged message of the soft bits and how many bits were corrected, or None. Chase decoding: the hard
    word, and the words with each subset of its CHASE least reliable bits flipped, are tried in turn."""
    hard = (soft < 0).astype(int)
    weakest = np.argsort(np.abs(soft))[:CHASE]
    tag = tag_bits()
    for flips in range(1 << CHASE):
        word = hard.copy()
        word[weakest[[i for i in range(CHASE) if flips >> i & 1]]] ^= 1
        message = CODE.decode([int(b) for b in word])
        if message is not None and message[:TAG_BITS] == tag:
            return message, int(np.sum(np.array(CODE.encode(message)) != hard))
    return None


def weigh(folded: np.ndarray, power: np.ndarray, lay: Layout, size: int) -> np.ndarray:
    """Each bin of the folded spectrum as evidence for its +-1 sign: rotated by its keyed phase and weighted by the
    mark's amplitude over the host's power there (the matched filter for a signal in Gaussian noise of that power)."""
    at = (lay.ky % size, lay.kx)
    return folded[at] * amplitude(lay) / (power[at] + 1e-12) * np.exp(-1j * lay.phase)


def pilot_surface(z: np.ndarray, lay: Layout, m: int) -> np.ndarray:
    """The pilot's correlation with the weighed bins ``z`` at every shift, an m x m cyclic surface (1/UPSAMPLE-pixel
    steps when m = UPSAMPLE * tile)."""
    pilot = np.zeros((m, m // 2 + 1), complex)
    pilot[lay.ky[lay.owner < 0] % m, lay.kx[lay.owner < 0]] = z[lay.owner < 0]
    return np.fft.irfft2(pilot, s=(m, m))


def _at_scale(luma: np.ndarray, scale: float, lay: Layout) -> Detection | None:
    size = int(round(TILE * scale))
    folded, power = fold(luma, size)
    z = weigh(folded, power, lay, size)
    m = UPSAMPLE * size
    surface = pilot_surface(z, lay, m)
    spread = surface.std()
    if spread <= 1e-12:
        return None
    for peak in _peaks(surface, PEAKS, UPSAMPLE):
        shift = _refine(surface, peak)
        if (decoded := _decode(_soft(z, lay, shift, m))) is not None:
            return Detection(_prefix(decoded[0]), scale, (float(shift[0]) / UPSAMPLE, float(shift[1]) / UPSAMPLE),
                             float((surface[peak] - surface.mean()) / spread), decoded[1])
    return None


def _dithered(image: np.ndarray) -> Detection | None:
    """The dither-modulation mark of a small image, read where it was written, at each of its steps."""
    if not _small(*image.shape[:2]):
        return None
    for soft in watermark_dm.soft_reads(image, CODE.n, PSNR_DB):
        if (decoded := _decode(np.where(_whitening() == 1, -soft, soft))) is not None:
            return Detection(_prefix(decoded[0]), 1.0, (0.0, 0.0), float("nan"), decoded[1])
    return None


def _small(h: int, w: int) -> bool:
    """Whether an h x w image gets the dither-modulation mark: a side under DITHER_BELOW and at most its square in
    pixels (a long strip folds into enough tiles for the spread-spectrum mark)."""
    return min(h, w) < DITHER_BELOW and h * w <= DITHER_BELOW**2


def _prefix(message: list[int]) -> str:
    """The fingerprint prefix a decoded message carries after its tag."""
    return f"{int(''.join(map(str, message[TAG_BITS:])), 2):0{PREFIX_HEX}x}"


def detect(image: np.ndarray) -> Detection | None:
    """The mark in a uint8 image, or None when none is found (see the module's note on false positives): for a
    small image (``_small``), first the dither-modulation mark, then (it may be a resized copy of a larger marked
    image) the spread-spectrum one."""
    if (found := _dithered(image)) is not None:
        return found
    luma = luminance(image)
    lay = layout()
    for scale in SCALES:
        if (found := _at_scale(luma, scale, lay)) is not None:
            return found
    return None


def false_positive_bound() -> float:
    """An upper bound on the chance that ``detect`` reports a mark in an unmarked image (the union bound over its
    attempts, a small image's dither-modulation reads among them; the module's note says why each attempt reads a
    uniformly random word)."""
    attempts = len(SCALES) * PEAKS + len(watermark_dm.STEPS)
    return attempts * 2**CHASE * CODE.accept_probability() * 2.0**-TAG_BITS
