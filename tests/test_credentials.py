"""C2PA content credentials: written into every image aekit makes from a model, read back with c2pa's validation."""

from __future__ import annotations

import datetime
import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aekit._version import __version__
from aekit.cli import main
from aekit.errors import AekitError
from aekit.runs import signing, watermark
from aekit.runs.credentials import COMPOSITE, TRAINED, read_credentials
from aekit.runs.provenance import make_mark, read_mark, save_array, save_png

FINGERPRINT = "3f" * 32
DIGIT = (np.arange(28 * 28) * 7 % 256).astype(np.uint8).reshape(28, 28)


@pytest.fixture(autouse=True)
def config(tmp_path, monkeypatch) -> Path:
    """A fresh config folder per test, so each test sees aekit's first use."""
    folder = tmp_path / "config"
    monkeypatch.setenv("AEKIT_CONFIG", str(folder))
    return folder


def chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset, body length) of each chunk of a PNG file."""
    out, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append((data[pos + 4:pos + 8], pos, n))
        pos += 12 + n
    return out


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def repaint_pixel(data: bytes, y: int, x: int) -> bytes:
    """A grey PNG with one pixel changed in the file itself: the pixel data re-coded (unfiltered) as one IDAT chunk
    where the old ones stood; every other chunk, the manifest's too, byte for byte as it was."""
    with Image.open(io.BytesIO(data)) as im:
        pixels = np.array(im)
    pixels[y, x] ^= 0x80
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)  # filter type 0 before each row
    idat = [(pos, n) for kind, pos, n in chunks(data) if kind == b"IDAT"]
    start, end = idat[0][0], idat[-1][0] + 12 + idat[-1][1]
    return data[:start] + chunk(b"IDAT", zlib.compress(raw)) + data[end:]


def flip_signature_byte(data: bytes) -> bytes:
    """The PNG with one byte of its manifest's signature flipped (the chunk's CRC put right, so the PNG is sound)."""
    pos, n = next((pos, n) for kind, pos, n in chunks(data) if kind == b"caBX")
    body = bytearray(data[pos + 8:pos + 8 + n])
    assert body[-66:-64] == b"\x58\x40"  # the store ends with the COSE signature: a 64-byte ES256 string
    body[-10] ^= 0x01
    return data[:pos] + chunk(b"caBX", bytes(body)) + data[pos + 12 + n:]


def make_ca(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A certificate authority and a signing certificate it issues: (key.pem, chain.pem, ca.pem) in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP256R1())

    def cert(subject, issuer, public_key, sign_key, ca: bool):
        dn = [x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)]) for cn in (subject, issuer)]
        b = (x509.CertificateBuilder().subject_name(dn[0]).issuer_name(dn[1]).public_key(public_key)
             .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(not ca, False, False, False, False, ca, ca, False, False), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
        if not ca:
            b = (b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                 .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(sign_key.public_key()),
                                critical=False))
        return b.sign(sign_key, hashes.SHA384()).public_bytes(serialization.Encoding.PEM)

    folder.mkdir(parents=True, exist_ok=True)
    ca = cert(f"{name} CA", f"{name} CA", ca_key.public_key(), ca_key, True)
    paths = folder / "key.pem", folder / "chain.pem", folder / "ca.pem"
    paths[0].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[1].write_bytes(cert(f"{name} signer", f"{name} CA", key.public_key(), ca_key, False) + ca)
    paths[2].write_bytes(ca)
    return paths


def active_manifest(path: Path) -> dict:
    import c2pa

    with c2pa.Reader(str(path)) as reader:
        return reader.get_active_manifest()


def test_an_image_a_model_made_carries_a_created_manifest_that_validates(tmp_path, config):
    path = save_png(tmp_path / "sample.png", DIGIT, make_mark("generate", FINGERPRINT, sampler="gmm"))
    c = read_credentials(path)
    assert (c.state, c.action, c.source_type) == ("untrusted", "c2pa.created", "trainedAlgorithmicMedia")
    assert (c.version, c.fingerprint) == (__version__, FINGERPRINT)
    assert c.problems == ["signingCredential.untrusted"] and c.signer == f"{signing.LOCAL_NAME} (aekit)"
    manifest = active_manifest(path)
    (action,) = next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    assert action["digitalSourceType"] == TRAINED and action["softwareAgent"]["version"] == __version__
    assert "thumbnail" not in manifest and manifest["title"] == "sample.png"
    assert read_mark(path)["sampler"] == "gmm"  # the iTXt mark is still there, under the signature
    assert np.array_equal(np.asarray(Image.open(path)), watermark.embed(DIGIT, FINGERPRINT))  # signing keeps pixels
    # The local CA was made on first use, in the config folder; its signer's key is the owner's alone.
    assert sorted(p.name for p in (config / "c2pa").iterdir()) == [signing.LOCAL_CA, signing.LOCAL_SIGNER]
    if os.name == "posix":
        assert (config / "c2pa" / signing.LOCAL_SIGNER).stat().st_mode & 0o077 == 0
    before = (config / "c2pa" / signing.LOCAL_SIGNER).read_bytes()
    save_png(tmp_path / "again.png", DIGIT, make_mark("generate", FINGERPRINT))
    assert (config / "c2pa" / signing.LOCAL_SIGNER).read_bytes() == before  # made once, then reused


def test_an_edit_of_the_users_image_names_it_as_the_parent_ingredient(tmp_path):
    Image.fromarray(255 - DIGIT).save(tmp_path / "noisy.png")
    path = save_png(tmp_path / "clean.png", DIGIT, make_mark("denoise", FINGERPRINT), parent=tmp_path / "noisy.png")
    c = read_credentials(path)
    assert (c.state, c.action, c.source_type, c.fingerprint) == ("untrusted", "c2pa.edited",
                                                                 "trainedAlgorithmicMedia", FINGERPRINT)
    manifest = active_manifest(path)
    (ingredient,) = manifest["ingredients"]
    assert (ingredient["title"], ingredient["relationship"], ingredient["format"]) == ("noisy.png", "parentOf",
                                                                                      "image/png")
    actions = next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.edited"]
    (tmp_path / "code.aek").write_bytes(b"not an image c2pa knows")  # decompress: the parent is an .aek file
    path = save_png(tmp_path / "decoded.png", DIGIT, make_mark("decompress", FINGERPRINT), parent=tmp_path / "code.aek")
    assert read_credentials(path).action == "c2pa.edited"
    assert active_manifest(path)["ingredients"][0]["title"] == "code.aek"


def test_a_figure_is_a_composite_of_model_output_and_real_images(tmp_path):
    from aekit.apps.figures import reconstruction_figure

    reconstruction_figure([DIGIT] * 2, [255 - DIGIT] * 2, tmp_path / "fig.png", make_mark("reconstruct", FINGERPRINT))
    c = read_credentials(tmp_path / "fig.png")
    assert (c.state, c.action, c.source_type) == ("untrusted", "c2pa.created", "compositeWithTrainedAlgorithmicMedia")
    actions = next(a["data"]["actions"] for a in active_manifest(tmp_path / "fig.png")["assertions"]
                   if a["label"].startswith("c2pa.actions"))
    assert actions[0]["digitalSourceType"] == COMPOSITE


def test_a_manifest_adds_a_few_kilobytes_to_a_28x28_png(tmp_path):
    mark = make_mark("generate", FINGERPRINT)
    signed = save_png(tmp_path / "signed.png", DIGIT, mark).stat().st_size
    from aekit.runs import provenance

    plain = tmp_path / "plain.png"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(provenance, "sign_png", lambda png, *a, **k: png)
        unsigned = save_png(plain, DIGIT, mark).stat().st_size
    assert read_credentials(plain).state == "absent"
    assert 1000 < signed - unsigned < 4096  # no thumbnail, one certificate: about 3 KB


def test_a_pixel_changed_in_place_or_a_flipped_signature_byte_is_tampering(tmp_path):
    path = save_png(tmp_path / "sample.png", DIGIT, make_mark("swap", FINGERPRINT))
    data = path.read_bytes()
    repainted = tmp_path / "repainted.png"
    repainted.write_bytes(repaint_pixel(data, 5, 7))
    marked = np.asarray(Image.open(path))  # the digit with aekit's pixel watermark
    changed = np.asarray(Image.open(repainted)) != marked
    assert changed.sum() == 1 and changed[5, 7]  # one pixel, nothing else: the manifest is still in the file
    c = read_credentials(repainted)
    assert c.state == "tampered" and "assertion.dataHash.mismatch" in c.problems
    flipped = tmp_path / "flipped.png"
    flipped.write_bytes(flip_signature_byte(data))
    assert np.array_equal(np.asarray(Image.open(flipped)), marked)
    c = read_credentials(flipped)
    assert c.state == "tampered" and "claimSignature.mismatch" in c.problems
    assert read_credentials(path).state == "untrusted"  # the original is intact


def test_plain_files_and_arrays_have_no_credentials(tmp_path):
    Image.fromarray(DIGIT).save(tmp_path / "plain.png")
    assert read_credentials(tmp_path / "plain.png").state == "absent"
    Image.fromarray(DIGIT).save(tmp_path / "plain.jpg")
    assert read_credentials(tmp_path / "plain.jpg").state == "absent"
    arr = save_array(tmp_path / "swaps.npy", DIGIT[None], make_mark("swap", FINGERPRINT))
    assert read_credentials(arr).state == "absent" and read_mark(arr)["model_fingerprint"] == FINGERPRINT


def test_a_signer_the_user_configures_is_used_and_trust_anchors_make_it_valid(tmp_path, config, monkeypatch):
    key, chain, ca = make_ca(tmp_path / "studio", "Studio")
    monkeypatch.setenv("AEKIT_C2PA_SIGNER", os.pathsep.join([str(chain), str(key)]))
    path = save_png(tmp_path / "a.png", DIGIT, make_mark("generate", FINGERPRINT))
    c = read_credentials(path)
    assert c.state == "untrusted" and c.signer == "Studio signer (Studio)"
    assert not (config / "c2pa").exists()  # no local CA made
    monkeypatch.setenv("AEKIT_C2PA_TRUST", str(ca))
    assert read_credentials(path).state == "valid" and read_credentials(path).problems == []
    # A key file in the config folder (key and chain in one file) when the variable is not set.
    monkeypatch.delenv("AEKIT_C2PA_SIGNER")
    (config / "c2pa").mkdir(parents=True)
    (config / "c2pa" / signing.USER_SIGNER).write_bytes(key.read_bytes() + chain.read_bytes())
    path = save_png(tmp_path / "b.png", DIGIT, make_mark("generate", FINGERPRINT))
    assert read_credentials(path).state == "valid" and not (config / "c2pa" / signing.LOCAL_SIGNER).exists()


def test_aekits_local_ca_is_valid_only_where_the_user_trusts_it(tmp_path, config, monkeypatch):
    path = save_png(tmp_path / "a.png", DIGIT, make_mark("generate", FINGERPRINT))
    assert read_credentials(path).state == "untrusted"
    monkeypatch.setenv("AEKIT_C2PA_TRUST", str(config / "c2pa" / signing.LOCAL_CA))
    assert read_credentials(path).state == "valid"
    _, _, other = make_ca(tmp_path / "other", "Other")
    monkeypatch.setenv("AEKIT_C2PA_TRUST", str(other))
    assert read_credentials(path).state == "untrusted"


def test_bad_signing_configurations_are_one_line_errors(tmp_path, config, monkeypatch):
    key, chain, _ = make_ca(tmp_path / "studio", "Studio")
    out = tmp_path / "a.png"
    for files, message in [([chain], "one private key"), ([tmp_path / "missing.pem"], "cannot be read")]:
        monkeypatch.setenv("AEKIT_C2PA_SIGNER", os.pathsep.join(map(str, files)))
        with pytest.raises(AekitError, match=message):
            save_png(out, DIGIT, make_mark("generate", FINGERPRINT))
    ca_key = tmp_path / "studio" / "self.pem"  # a self-signed certificate: c2pa refuses to sign with it
    from cryptography.hazmat.primitives import serialization

    signer_key = serialization.load_pem_private_key(key.read_bytes(), None)
    ca_key.write_bytes(key.read_bytes() + _self_signed(signer_key))
    monkeypatch.setenv("AEKIT_C2PA_SIGNER", str(ca_key))
    with pytest.raises(AekitError, match=r"^a\.png: signing its content credentials with AEKIT_C2PA_SIGNER's key "):
        save_png(out, DIGIT, make_mark("generate", FINGERPRINT))
    assert not out.exists()
    monkeypatch.delenv("AEKIT_C2PA_SIGNER")
    monkeypatch.setenv("AEKIT_C2PA_TRUST", str(key))
    with pytest.raises(AekitError, match="holds no PEM certificate"):
        read_credentials(save_png(out, DIGIT, make_mark("generate", FINGERPRINT)))


def _self_signed(key) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "myself")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_the_credentials_folder_is_never_a_run_folder(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "model.safetensors").write_bytes(b"")
    monkeypatch.setenv("AEKIT_CONFIG", str(run / "settings"))
    with pytest.raises(AekitError, match="is inside the run"):
        save_png(tmp_path / "a.png", DIGIT, make_mark("generate", FINGERPRINT))
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "model.safetensors"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A dense run trained for one epoch on 128 shifted copies of one image: a model, not a good one."""
    folder = tmp_path_factory.mktemp("credentials")
    x = np.stack([np.roll(DIGIT, i) for i in range(160)])
    np.savez(folder / "digits.npz", x_train=x[:128], y_train=np.zeros(128, np.int64), x_test=x[128:],
             y_test=np.zeros(32, np.int64))
    assert main(["train", "--data", str(folder / "digits.npz"), "--out", str(folder / "run"), "--code-size", "8",
                 "--epochs", "1", "--batch-size", "64", "--no-progress", "--no-eval"]) == 0
    return folder / "run"


def test_inspect_prints_each_state_in_one_line_and_nothing_goes_into_the_run(run_dir, tmp_path, config, capsys,
                                                                               monkeypatch):
    before = {p.name for p in run_dir.iterdir()}
    assert main(["interpolate", str(run_dir), "0", "1", "--steps", "3"]) == 0  # into the run: RUN/interpolation.png
    assert {p.name for p in run_dir.iterdir()} - before == {"interpolation.png"}
    assert not [p for p in run_dir.rglob("*") if p.suffix in (".pem", ".key")]
    assert (config / "c2pa" / signing.LOCAL_SIGNER).is_file()
    Image.fromarray(DIGIT).save(tmp_path / "plain.png")
    assert main(["denoise", str(run_dir), str(tmp_path / "plain.png"), "--out", str(tmp_path / "out")]) == 0
    sample = run_dir / "interpolation.png"
    (tmp_path / "tampered.png").write_bytes(flip_signature_byte(sample.read_bytes()))
    files = [sample, tmp_path / "out" / "plain.png", tmp_path / "tampered.png", tmp_path / "plain.png"]
    capsys.readouterr()
    assert main(["inspect", *map(str, files)]) == 4  # a file was tampered with
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith(f"{sample}: credentials untrusted (c2pa.created, trainedAlgorithmicMedia, aekit ")
    assert "which no trust anchor vouches for); mark {" in lines[0]
    assert json.loads(lines[0].split("; mark ", 1)[1].rsplit("; ", 1)[0])["operation"] == "interpolate"
    assert lines[1].startswith(f"{tmp_path / 'out' / 'plain.png'}: credentials untrusted (c2pa.edited, ")
    assert lines[2].startswith(f"{tmp_path / 'tampered.png'}: credentials tampered (claimSignature.mismatch)")
    assert lines[3] == f"{tmp_path / 'plain.png'}: credentials absent; no aekit provenance mark; no pixel mark"
    assert main(["inspect", str(tmp_path / "plain.png")]) == 3
    monkeypatch.setenv("AEKIT_C2PA_TRUST", str(config / "c2pa" / signing.LOCAL_CA))
    capsys.readouterr()
    assert main(["inspect", str(sample)]) == 0
    assert capsys.readouterr().out.startswith(f"{sample}: credentials valid (c2pa.created, trainedAlgorithmicMedia, ")
