"""Bounded HTTP downloads of a dataset's IDX files from a list of mirrors."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from aekit.data.specs import DatasetSpec
from aekit.errors import AekitError

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
CHUNK = 1 << 20


def mirrors_for(spec: DatasetSpec) -> tuple[str, ...]:
    """The spec's mirrors, or $AEKIT_MIRRORS (comma-separated base URLs; empty = none) if set."""
    env = os.environ.get("AEKIT_MIRRORS")
    if env is None:
        return spec.mirrors
    return tuple(u.strip() for u in env.split(",") if u.strip())


def download(url: str, dest: Path, max_bytes: int, md5: str | None) -> None:
    """Download url to dest, refusing more than max_bytes and checking an MD5 when given."""
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
        declared = resp.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise AekitError(f"{url} is {declared} bytes, more than the {max_bytes} allowed")
        total = 0
        with open(dest, "wb") as fp:
            while chunk := resp.read(CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise AekitError(f"{url} sent more than the {max_bytes} bytes allowed")
                digest.update(chunk)
                fp.write(chunk)
    if md5 is not None and digest.hexdigest() != md5:
        raise AekitError(f"{url} has MD5 {digest.hexdigest()}, expected {md5}")


def fetch_from_mirror(spec: DatasetSpec, base: str, folder: Path) -> None:
    """Download all of the spec's files from one mirror base URL into folder."""
    md5s = spec.file_md5 or (None,) * len(spec.files)
    for name, md5 in zip(spec.files, md5s, strict=True):
        url = base.rstrip("/") + "/" + name
        try:
            download(url, folder / name, spec.max_file_bytes, md5)
        except urllib.error.HTTPError as e:
            e.close()
            raise AekitError(f"{url}: HTTP {e.code} {e.reason}") from e
        except urllib.error.URLError as e:
            raise AekitError(f"{url}: {e.reason}") from e
        except (OSError, ValueError) as e:
            raise AekitError(f"{url}: {e}") from e
