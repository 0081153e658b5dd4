"""The ``.aek`` image file: a compressive autoencoder's code, range-coded under its learned prior.

Layout (every integer big-endian; 11 bytes of overhead for a 28x28 image)::

    magic     2 bytes   b"\\xaeK"
    version   1 byte    high 3 bits: format version (1); low 5 bits: quality level (0..31)
    model     4 bytes   the first 4 bytes of the SHA-256 of the model's weights file
    height    varint    the original image's height (1..MAX_SIDE), LEB128
    width     varint    the original image's width
    payload   n bytes   the symbols, range-coded (constriction), trailing bytes trimmed (see below)
    checksum  2 bytes   CRC-16/CCITT of everything before it

The model codes images at its own size; an image of another size is resized to it and the decoder resizes back to the
stored size. The range coder writes 32-bit words; the encoder trims trailing bytes of the last word when the
shortened payload, padded with 0xFF bytes by the decoder, still decodes to the same symbols (checked by decoding),
saving about 1.8 bytes per file.

Determinism: encoder and decoder must compute bit-identical probabilities. Both evaluate the prior one dimension at
a time on the same inputs in float64, and round means and scales to a fixed grid (``_grid``), so last-bit
differences between machines or batch sizes cannot change a probability except on a grid boundary; the encoder
decodes every payload it writes and raises rather than write a file that would not decode.

Every file is untrusted: sizes are checked before anything is allocated, the checksum before anything is decoded,
and any failure is one ``CodecError`` line.
"""

from __future__ import annotations

import binascii
import copy

import numpy as np
import torch

from aekit.apps.refine import refine_symbols
from aekit.errors import AekitError

MAGIC = b"\xaeK"
VERSION = 1
MAX_SIDE = 8192  # largest height or width a file may declare
MAX_PAYLOAD = 1 << 16  # bytes
SYMBOL_LIMIT = 4095  # symbols are clipped to [-SYMBOL_LIMIT, SYMBOL_LIMIT]
PAD = b"\xff"


class CodecError(AekitError):
    """A file that is not a valid .aek file for this model."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(3):  # MAX_SIDE fits in 2 bytes; 3 is the most a valid file can use
        if pos >= len(data):
            raise CodecError("truncated file (header)")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos
    raise CodecError("corrupt header (size field too long)")


def _crc(data: bytes) -> bytes:
    return binascii.crc_hqx(data, 0xFFFF).to_bytes(2, "big")


def _grid(mean: torch.Tensor, scale: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Means rounded to 1/64, scales to 64 steps per octave: what both sides hand to the range coder."""
    mean = torch.round(mean.double() * 64) / 64
    scale = torch.exp2(torch.round(torch.log2(scale.double()) * 64) / 64)
    return mean.numpy(), scale.numpy()


class Codec:
    """Encode and decode ``.aek`` files with one compressive autoencoder (``fingerprint``: its weights' SHA-256)."""

    def __init__(self, model, fingerprint: str):
        import constriction  # the range coder; imported here so that the rest of aekit never needs it

        self._c = constriction
        self.model = model.eval()
        self.prior = copy.deepcopy(model).double().cpu().eval()  # float64 copy for the probabilities
        self.fingerprint = fingerprint
        self.model_id = bytes.fromhex(fingerprint[:8])
        self.dims = model.config.code_size
        self.shape = tuple(model.config.input_shape)
        self.gaussian = constriction.stream.model.QuantizedGaussian(-SYMBOL_LIMIT, SYMBOL_LIMIT)

    @torch.no_grad()
    def _parameters(self, symbols: torch.Tensor, levels: torch.Tensor, upto: int) -> tuple[np.ndarray, np.ndarray]:
        """Gridded mean and scale of dimension ``upto`` for a batch, from the symbols before it (float64)."""
        ctx = symbols.clone()
        ctx[:, upto:] = 0
        mean, scale = self.prior.entropy_parameters(ctx, levels)
        return _grid(mean[:, upto], scale[:, upto])

    def _header(self, level: int, height: int, width: int) -> bytes:
        return MAGIC + bytes([VERSION << 5 | level]) + self.model_id + _varint(height) + _varint(width)

    def _decoder(self, payload: bytes):
        """A range decoder over a payload, padded to whole 32-bit words with PAD bytes."""
        padded = payload + PAD * (-len(payload) % 4)
        return self._c.stream.queue.RangeDecoder(np.frombuffer(padded, dtype=">u4").astype(np.uint32))

    @torch.no_grad()
    def encode(self, x: torch.Tensor, level: int, sizes: list[tuple[int, int]] | None = None,
               refine: int = 0) -> list[bytes]:
        """Files for a batch x (N, C, H, W) in model space, at one level; ``sizes``: original (height, width)s;
        ``refine``: steps of encoder-side refinement of the symbols (``aekit.apps.refine.refine_symbols``; 0: none)."""
        if not 0 <= level < self.model.levels:
            raise CodecError(f"quality level must lie in 0..{self.model.levels - 1}, got {level}")
        if tuple(x.shape[1:]) != self.shape:
            raise CodecError(f"images have shape {tuple(x.shape[1:])}, the model codes {self.shape}")
        device = next(self.model.parameters()).device
        symbols = refine_symbols(self.model, x.to(device), level, steps=refine) if refine else \
            self.model.symbols(x.to(device), level)
        symbols = symbols.cpu().double().clamp(-SYMBOL_LIMIT, SYMBOL_LIMIT)
        levels = torch.full((len(symbols),), level, dtype=torch.long)
        means, scales = zip(*(self._parameters(symbols, levels, i) for i in range(self.dims)))
        means, scales = np.stack(means, 1), np.stack(scales, 1)  # dimension by dimension, as the decoder does
        ints = symbols.numpy().astype(np.int32)
        sizes = sizes or [self.shape[1:]] * len(x)
        files = []
        for sym, mean, scale, (h, w) in zip(ints, means, scales, sizes):
            enc = self._c.stream.queue.RangeEncoder()
            enc.encode(sym, self.gaussian, mean, scale)
            payload = self._trim(enc.get_compressed().astype(">u4").tobytes(), sym, mean, scale)
            body = self._header(level, int(h), int(w)) + payload
            files.append(body + _crc(body))
        return files

    def _trim(self, payload: bytes, sym: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> bytes:
        """The shortest prefix of ``payload`` (dropping up to 3 bytes) that still decodes to ``sym``."""
        best = None
        for cut in range(0, 4):
            if cut >= len(payload):
                break
            try:
                got = self._decoder(payload[:len(payload) - cut]).decode(self.gaussian, mean, scale)
            except Exception:  # constriction rejects some truncations; that cut is simply not usable
                continue
            if np.array_equal(got, sym):
                best = payload[:len(payload) - cut]
        if best is None:
            raise CodecError("internal error: the range coder's output does not decode back; file not written")
        return best

    def parse(self, data: bytes) -> tuple[int, int, int, bytes]:
        """Check a file's framing; returns (level, height, width, payload). Raises CodecError."""
        if len(data) > MAX_PAYLOAD + 32:
            raise CodecError(f"file too large for an .aek image ({len(data)} bytes)")
        if len(data) < len(MAGIC) + 5 + 2 + 2 or data[:2] != MAGIC:
            raise CodecError("not an aekit compressed image (bad magic or too short)")
        if _crc(data[:-2]) != data[-2:]:
            raise CodecError("corrupt file (checksum mismatch)")
        version, level = data[2] >> 5, data[2] & 0x1F
        if version != VERSION:
            raise CodecError(f"unsupported format version {version} (this aekit reads version {VERSION})")
        if data[3:7] != self.model_id:
            raise CodecError(f"made by another model (model {data[3:7].hex()}, this run is {self.model_id.hex()})")
        if level >= self.model.levels:
            raise CodecError(f"quality level {level} does not exist in this model")
        height, pos = _read_varint(data, 7)
        width, pos = _read_varint(data, pos)
        if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
            raise CodecError(f"corrupt header (image size {height}x{width})")
        return level, height, width, data[pos:-2]

    @torch.no_grad()
    def decode_many(self, files: list[bytes]) -> list[tuple[torch.Tensor, int, tuple[int, int]]]:
        """Files to (image (C, H, W) in model space, level, original (height, width)) each, decoded in lockstep.

        A bad file raises CodecError naming its position in ``files``."""
        parsed = []
        for n, data in enumerate(files):
            try:
                parsed.append(self.parse(data))
                if not parsed[-1][3]:
                    raise CodecError("corrupt file (empty payload)")
            except CodecError as e:
                raise CodecError(f"file {n}: {e}" if len(files) > 1 else str(e)) from None
        levels = torch.tensor([p[0] for p in parsed], dtype=torch.long)
        symbols = torch.zeros(len(files), self.dims, dtype=torch.float64)
        decoders, n = [], 0
        try:
            decoders = [self._decoder(p[3]) for p in parsed]
            for i in range(self.dims):
                mean, scale = self._parameters(symbols, levels, i)
                for n, dec in enumerate(decoders):
                    symbols[n, i] = float(dec.decode(self.gaussian, mean[n:n + 1], scale[n:n + 1])[0])
        except Exception as e:  # constriction signals corrupt streams with assorted exception types
            where = f"file {n}: " if len(files) > 1 else ""
            raise CodecError(f"{where}corrupt file (payload: {e})") from None
        device = next(self.model.parameters()).device
        images = []
        for start in range(0, len(files), 1024):
            sl = slice(start, start + 1024)
            images.append(self.model.decode_symbols(symbols[sl].float().to(device), levels[sl].to(device)).cpu())
        images = torch.cat(images)
        return [(img, p[0], (p[1], p[2])) for img, p in zip(images, parsed)]

    def decode(self, data: bytes) -> tuple[torch.Tensor, int, tuple[int, int]]:
        """One file to (image (C, H, W) in model space, level, original (height, width))."""
        return self.decode_many([data])[0]
