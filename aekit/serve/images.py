"""Images in and out of the server: uploads decoded under limits, results sent back as PNG data URLs."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from aekit.data.images import ImageTooLarge, open_image, to_8bit, upright

MAX_PIXELS = 4096 * 4096  # an upload with more pixels is refused from its header, before decoding


class ServeError(Exception):
    """A request the server refuses: an HTTP status and one line for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def decode_image(data: bytes, name: str, channels: int = 3) -> np.ndarray:
    """An uploaded file's bytes as uint8 (H, W) (``channels`` 1) or (H, W, 3): refused with a 415 when it is no image
    and with a 413 past ``MAX_PIXELS``."""
    try:
        with open_image(io.BytesIO(data)) as im:
            if im.size[0] * im.size[1] > MAX_PIXELS:
                raise ServeError(413, f"{name} is {im.size[1]}x{im.size[0]} pixels; the limit is {MAX_PIXELS:,}")
            return np.asarray(to_8bit(upright(im), grey=channels == 1), dtype=np.uint8)
    except ImageTooLarge as e:
        raise ServeError(413, f"{name} is too large: {e}") from None
    except (OSError, ValueError, SyntaxError):  # Pillow: not an image, or a damaged one
        raise ServeError(415, f"{name} is not an image aekit can read (PNG, JPEG, WebP or BMP)") from None


def png_bytes(image: np.ndarray) -> bytes:
    """uint8 (H, W) or (H, W, 3) as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    """Bytes as a data: URL."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def png_url(image: np.ndarray) -> str:
    """uint8 (H, W) or (H, W, 3) as a PNG data: URL."""
    return data_url(png_bytes(image))
