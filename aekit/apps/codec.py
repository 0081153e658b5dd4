"""The ``.aek`` image file: a compressive autoencoder's codes, range-coded under its learned prior.

Layout (every integer big-endian; 11 bytes of overhead for a 28x28 image)::

    magic     2 bytes   b"\\xaeK"
    version   1 byte    high 3 bits: format version (2); low 5 bits: quality level (0..31)
    model     4 bytes   the first 4 bytes of the SHA-256 of the model's weights file
    height    varint    the original image's height (1..MAX_SIDE) times 2, plus 1 in a tiled file; LEB128
    width     varint    the original image's width
    grid      2 varints tiled files only: the rows and columns of tiles
    payload   n bytes   the symbols, range-coded (constriction), trailing bytes trimmed (see below)
    checksum  2 bytes   CRC-16/CCITT of everything before it

A file codes an image in one of two layouts, each a list of "items" of the model's own size (C, h, w):

- whole: one item, the image resized to the model's size (bicubic); the decoder resizes back to the stored size.
  For a model trained on whole images (digits, faces), whatever their size.
- tiled: the image padded at the bottom and right to whole tiles of the model's size (by reflection; by repeating
  its edge where it is too small to reflect), cut into a grid of rows x cols tiles that never overlap, row by row
  (``aekit.apps.tiles.split_grid``); the decoder places them and crops the padding (rows x h - height rows and
  cols x w - width columns). For a model trained on patches (``aekit train --patches``): the image keeps every
  pixel. The grid must be exactly ceil(height / h) x ceil(width / w) tiles, at most MAX_TILES of them covering at
  most MAX_TILED_PIXELS pixels.

The layout flag sits in the lowest bit of the height field, so that a whole-image file is no longer than in
version 1. The payload codes the items' symbols dimension by dimension: dimension 0 of every item, then dimension 1,
and so on (for one item: its code in order); the decoder decodes one dimension of every item at a time, each under
the prior given the dimensions before it. Version 1 (aekit 0.1.0) is version 2 without the layout bit: its height
field is the plain height and its one item the whole image; this aekit still reads it.

The range coder writes 32-bit words; the encoder trims trailing bytes of the last word when the shortened payload,
padded with 0xFF bytes by the decoder, still decodes to the same symbols (checked by decoding), saving about 1.8
bytes per file.

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
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from aekit.apps.refine import refine_symbols
from aekit.apps.tiles import grid as tile_grid
from aekit.errors import AekitError

MAGIC = b"\xaeK"
VERSION = 2  # the version this aekit writes
VERSIONS = (1, 2)  # the versions it reads
MAX_SIDE = 8192  # largest height or width a file may declare
MAX_TILES = 16_384  # most tiles in one file
MAX_TILED_PIXELS = 1 << 24  # most pixels a tiled file's grid may cover (4096 x 4096)
MAX_FILE = 1 << 24  # bytes
SYMBOL_LIMIT = 4095  # symbols are clipped to [-SYMBOL_LIMIT, SYMBOL_LIMIT]
PAD = b"\xff"
CHUNK = 1024  # items through the model, or the prior, at a time


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


@dataclass(frozen=True)
class Header:
    """A checked file's framing: its level, the original image's (height, width), the tile grid (rows, cols) of a
    tiled file (None: one code of the whole image) and the range-coded payload."""

    level: int
    size: tuple[int, int]
    grid: tuple[int, int] | None
    payload: bytes

    @property
    def items(self) -> int:
        """Codes in the file: one per tile, or one."""
        return 1 if self.grid is None else self.grid[0] * self.grid[1]


@dataclass(frozen=True)
class Decoded:
    """A decoded file: its level, original (height, width), tile grid (None: whole image) and the integer symbols
    of its items (items, code_size) as float64."""

    level: int
    size: tuple[int, int]
    grid: tuple[int, int] | None
    symbols: torch.Tensor


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
        means, scales = [], []
        for start in range(0, len(symbols), CHUNK):
            ctx = symbols[start:start + CHUNK].clone()
            ctx[:, upto:] = 0
            mean, scale = self.prior.entropy_parameters(ctx, levels[start:start + CHUNK])
            means.append(mean[:, upto])
            scales.append(scale[:, upto])
        return _grid(torch.cat(means), torch.cat(scales))

    def check_grid(self, size: tuple[int, int], shape: tuple[int, int]) -> None:
        """Refuse a tile grid ``shape`` (rows, cols) that is not the one for an image of ``size``, or too large."""
        tile = self.shape[1:]
        expected = tile_grid(size, tile)
        if tuple(shape) != expected:
            raise CodecError(f"corrupt header (a {size[0]}x{size[1]} image in {tile[0]}x{tile[1]} tiles is a "
                             f"{expected[0]}x{expected[1]} grid, not {shape[0]}x{shape[1]})")
        if shape[0] * shape[1] > MAX_TILES or shape[0] * tile[0] * shape[1] * tile[1] > MAX_TILED_PIXELS:
            raise CodecError(f"a {size[0]}x{size[1]} image is too large for a tiled .aek file (at most {MAX_TILES} "
                             f"tiles covering {MAX_TILED_PIXELS} pixels)")

    def _header(self, level: int, size: tuple[int, int], shape: tuple[int, int] | None) -> bytes:
        (height, width), tiled = size, shape is not None
        head = MAGIC + bytes([VERSION << 5 | level]) + self.model_id + _varint(2 * height + tiled) + _varint(width)
        return head + (_varint(shape[0]) + _varint(shape[1]) if tiled else b"")

    def _decoder(self, payload: bytes):
        """A range decoder over a payload, padded to whole 32-bit words with PAD bytes."""
        padded = payload + PAD * (-len(payload) % 4)
        return self._c.stream.queue.RangeDecoder(np.frombuffer(padded, dtype=">u4").astype(np.uint32))

    def _check(self, x: torch.Tensor, level: int) -> None:
        if not 0 <= level < self.model.levels:
            raise CodecError(f"quality level must lie in 0..{self.model.levels - 1}, got {level}")
        if tuple(x.shape[1:]) != self.shape:
            raise CodecError(f"images have shape {tuple(x.shape[1:])}, the model codes {self.shape}")

    @torch.no_grad()
    def _symbols(self, x: torch.Tensor, level: int, refine: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integer symbols (N, code_size) of model-space items x at a level, and the gridded means and scales the
        prior gives them (``refine``: steps of ``aekit.apps.refine.refine_symbols``; 0: the encoder's own)."""
        device = next(self.model.parameters()).device
        parts = []
        for start in range(0, len(x), CHUNK):
            xb = x[start:start + CHUNK].to(device)
            parts.append(refine_symbols(self.model, xb, level, steps=refine) if refine else
                         self.model.symbols(xb, level))
        symbols = torch.cat(parts).cpu().double().clamp(-SYMBOL_LIMIT, SYMBOL_LIMIT)
        levels = torch.full((len(symbols),), level, dtype=torch.long)
        means, scales = zip(*(self._parameters(symbols, levels, i) for i in range(self.dims)))
        return symbols.numpy().astype(np.int32), np.stack(means, 1), np.stack(scales, 1)

    def _file(self, level: int, size: tuple[int, int], shape: tuple[int, int] | None, sym: np.ndarray,
              mean: np.ndarray, scale: np.ndarray) -> bytes:
        """One file for items' symbols (n, code_size) and their parameters, coded dimension by dimension."""
        sym, mean, scale = (np.ascontiguousarray(a.T).ravel() for a in (sym, mean, scale))
        enc = self._c.stream.queue.RangeEncoder()
        enc.encode(sym, self.gaussian, mean, scale)
        payload = self._trim(enc.get_compressed().astype(">u4").tobytes(), sym, mean, scale)
        body = self._header(level, size, shape) + payload
        return body + _crc(body)

    def encode(self, x: torch.Tensor, level: int, sizes: list[tuple[int, int]] | None = None,
               refine: int = 0) -> list[bytes]:
        """Whole-image files for a batch x (N, C, H, W) in model space, at one level; ``sizes``: original (height,
        width)s; ``refine``: steps of encoder-side refinement of the symbols (0: none)."""
        self._check(x, level)
        sym, mean, scale = self._symbols(x, level, refine)
        sizes = sizes or [self.shape[1:]] * len(x)
        return [self._file(level, (int(h), int(w)), None, sym[i:i + 1], mean[i:i + 1], scale[i:i + 1])
                for i, (h, w) in enumerate(sizes)]

    def encode_tiles(self, tiles: torch.Tensor, level: int, size: tuple[int, int], refine: int = 0) -> bytes:
        """One tiled file for an image of ``size`` (height, width): ``tiles`` (rows * cols, C, h, w) in model space
        are its ``aekit.apps.tiles.split_grid``, row by row."""
        self._check(tiles, level)
        shape = tile_grid(size, self.shape[1:])
        self.check_grid(size, shape)
        if len(tiles) != shape[0] * shape[1]:
            raise CodecError(f"a {size[0]}x{size[1]} image is {shape[0]}x{shape[1]} tiles, got {len(tiles)}")
        return self._file(level, size, shape, *self._symbols(tiles, level, refine))

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

    def parse(self, data: bytes) -> Header:
        """Check a file's framing. Raises CodecError."""
        if len(data) > MAX_FILE:
            raise CodecError(f"file too large for an .aek image ({len(data)} bytes)")
        if len(data) < len(MAGIC) + 5 + 2 + 2 or data[:2] != MAGIC:
            raise CodecError("not an aekit compressed image (bad magic or too short)")
        if _crc(data[:-2]) != data[-2:]:
            raise CodecError("corrupt file (checksum mismatch)")
        version, level = data[2] >> 5, data[2] & 0x1F
        if version not in VERSIONS:
            raise CodecError(f"unsupported format version {version} (this aekit reads versions "
                             f"{', '.join(map(str, VERSIONS))})")
        if data[3:7] != self.model_id:
            raise CodecError(f"made by another model (model {data[3:7].hex()}, this run is {self.model_id.hex()})")
        if level >= self.model.levels:
            raise CodecError(f"quality level {level} does not exist in this model")
        first, pos = _read_varint(data, 7)
        height, tiled = (first, False) if version == 1 else (first >> 1, bool(first & 1))
        width, pos = _read_varint(data, pos)
        if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
            raise CodecError(f"corrupt header (image size {height}x{width})")
        shape = None
        if tiled:
            rows, pos = _read_varint(data, pos)
            cols, pos = _read_varint(data, pos)
            shape = (rows, cols)
            self.check_grid((height, width), shape)
        if pos >= len(data) - 2:
            raise CodecError("corrupt file (empty payload)")
        return Header(level, (height, width), shape, data[pos:-2])

    @torch.no_grad()
    def read_many(self, files: list[bytes]) -> list[Decoded]:
        """Range-decode files, in lockstep: one dimension of every item of every file at a time.

        A bad file raises CodecError naming its position in ``files``."""
        heads = []
        for n, data in enumerate(files):
            try:
                heads.append(self.parse(data))
            except CodecError as e:
                raise CodecError(f"file {n}: {e}" if len(files) > 1 else str(e)) from None
        ends = np.cumsum([h.items for h in heads]).tolist()
        starts = [0, *ends[:-1]]
        levels = torch.cat([torch.full((h.items,), h.level, dtype=torch.long) for h in heads])
        symbols = torch.zeros(len(levels), self.dims, dtype=torch.float64)
        decoders, n = [], 0
        try:
            decoders = [self._decoder(h.payload) for h in heads]
            for i in range(self.dims):
                mean, scale = self._parameters(symbols, levels, i)
                for n in range(len(decoders)):  # n names the file in an error
                    a, b = starts[n], ends[n]
                    symbols[a:b, i] = torch.from_numpy(decoders[n].decode(self.gaussian, mean[a:b], scale[a:b]))
        except Exception as e:  # constriction signals corrupt streams with assorted exception types
            where = f"file {n}: " if len(files) > 1 else ""
            raise CodecError(f"{where}corrupt file (payload: {e})") from None
        return [Decoded(h.level, h.size, h.grid, symbols[a:b]) for h, a, b in zip(heads, starts, ends)]

    @torch.no_grad()
    def images(self, symbols: torch.Tensor, levels: torch.Tensor) -> Iterator[torch.Tensor]:
        """The decoder's outputs (n, C, h, w) in model space, on the CPU, for symbols (N, code_size) at ``levels``
        (N,), CHUNK items at a time, in order."""
        device = next(self.model.parameters()).device
        for start in range(0, len(symbols), CHUNK):
            sl = slice(start, start + CHUNK)
            yield self.model.decode_symbols(symbols[sl].float().to(device), levels[sl].to(device)).cpu()

    def decode_many(self, files: list[bytes]) -> list[tuple[torch.Tensor, int, tuple[int, int]]]:
        """Files to (decoder output in model space, level, original (height, width)) each: the image (C, h, w) at
        the model's size of a whole-image file, the tiles (rows * cols, C, h, w) of a tiled one."""
        decoded = self.read_many(files)
        symbols = torch.cat([d.symbols for d in decoded])
        levels = torch.cat([torch.full((len(d.symbols),), d.level, dtype=torch.long) for d in decoded])
        out = torch.cat(list(self.images(symbols, levels)))
        ends = np.cumsum([len(d.symbols) for d in decoded]).tolist()
        return [(out[b - 1] if d.grid is None else out[b - len(d.symbols):b], d.level, d.size)
                for d, b in zip(decoded, ends)]

    def decode(self, data: bytes) -> tuple[torch.Tensor, int, tuple[int, int]]:
        """One file to (decoder output in model space, level, original (height, width)); see ``decode_many``."""
        return self.decode_many([data])[0]
