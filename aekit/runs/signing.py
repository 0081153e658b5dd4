"""Who signs aekit's content credentials: a certificate the user configures, else a local certificate authority that
aekit makes on first use.

- The user's signer: ``AEKIT_C2PA_SIGNER`` naming PEM files (joined by ``os.pathsep``, as in ``PATH``) that hold a
  private key and its certificate chain, signing certificate first; else ``signer.pem`` (key and chain in one file)
  in the credentials folder.
- Otherwise aekit makes ``local-signer.pem`` there: a key and an end-entity certificate issued by a certificate
  authority made for it alone (c2pa refuses self-signed signing certificates). The CA's key is dropped once it has
  signed; its certificate is kept as ``local-ca.pem``. No trust list holds that CA, so its signatures read as
  untrusted (unless the user adds ``local-ca.pem`` to the trust anchors).
- Trust anchors (the CAs whose signatures ``inspect`` reports as valid): ``AEKIT_C2PA_TRUST`` naming a PEM file, else
  ``trust.pem`` in the credentials folder; none by default.

The credentials folder is ``<config>/c2pa``, the config folder ``$AEKIT_CONFIG``, else ``~/.config/aekit`` (as the
data cache is ``$AEKIT_CACHE``, else ``~/.cache/aekit``). Nothing here is ever written into a run folder.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from pathlib import Path

from aekit.errors import AekitError
from aekit.fileio import atomic_write, make_folder

SIGNER_ENV, TRUST_ENV, CONFIG_ENV = "AEKIT_C2PA_SIGNER", "AEKIT_C2PA_TRUST", "AEKIT_CONFIG"
USER_SIGNER, LOCAL_SIGNER, LOCAL_CA, TRUST = "signer.pem", "local-signer.pem", "local-ca.pem", "trust.pem"
LOCAL_NAME = "aekit local signer"
LOCAL_YEARS = 5  # the local certificates' lifetime; they are made again after it
MAX_PEM = 1 << 20  # a PEM file of keys and certificates is a few KB
PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----\r?\n?", re.S)


@dataclass(frozen=True)
class SigningKey:
    """A private key, its certificate chain (PEM, signing certificate first), c2pa's name for its algorithm, and
    where it came from (shown to the user)."""

    key_pem: bytes
    chain_pem: bytes
    alg: str
    source: str


def config_root() -> Path:
    """The user's aekit config folder: $AEKIT_CONFIG, else ~/.config/aekit."""
    env = os.environ.get(CONFIG_ENV)
    return Path(env).expanduser() if env else Path.home() / ".config" / "aekit"


def credentials_dir() -> Path:
    """Where the signing key and trust anchors live, refused if it lies in a run folder."""
    folder = config_root() / "c2pa"
    for p in (folder, *folder.parents):
        if (p / "model.safetensors").is_file() and (p / "config.json").is_file():
            raise AekitError(f"the credentials folder {folder} is inside the run {p}; set {CONFIG_ENV} to a folder "
                             "of its own (a run folder is shared with others, a key is not)")
    return folder


def signing_key() -> SigningKey:
    """The key that signs: the user's (``AEKIT_C2PA_SIGNER``, else ``signer.pem``), else aekit's local one, made
    on first use and again once expired."""
    env = os.environ.get(SIGNER_ENV)
    if env:
        return read_signer([Path(p).expanduser() for p in env.split(os.pathsep) if p], SIGNER_ENV)
    folder = credentials_dir()
    if (folder / USER_SIGNER).is_file():
        return read_signer([folder / USER_SIGNER], str(folder / USER_SIGNER))
    local = folder / LOCAL_SIGNER
    if local.is_file():
        try:
            key = read_signer([local], "aekit's local CA")
            if _in_date(key.chain_pem):
                return key
        except (AekitError, ValueError):  # damaged: aekit made it, so aekit makes it again
            pass
    return make_local_signer(folder)


def trust_anchors() -> str | None:
    """The PEM certificates of the CAs the user trusts (``AEKIT_C2PA_TRUST``, else ``trust.pem``), or None."""
    env = os.environ.get(TRUST_ENV)
    path = Path(env).expanduser() if env else credentials_dir() / TRUST
    if not env and not path.is_file():
        return None
    blocks = [b for kind, b in _pem_blocks(path, TRUST_ENV if env else str(path)) if kind == b"CERTIFICATE"]
    if not blocks:
        raise AekitError(f"{path} ({TRUST_ENV if env else 'trust anchors'}) holds no PEM certificate")
    return b"".join(blocks).decode()


def read_signer(paths: list[Path], source: str) -> SigningKey:
    """A private key and its certificate chain from PEM files (in any order, or all in one file)."""
    if not paths:
        raise AekitError(f"{source} names no files; give the key and certificate files, joined by {os.pathsep!r}")
    blocks = [b for p in paths for b in _pem_blocks(p, source)]
    keys = [b for kind, b in blocks if kind.endswith(b"PRIVATE KEY")]
    certs = [b for kind, b in blocks if kind == b"CERTIFICATE"]
    if len(keys) != 1 or not certs:
        raise AekitError(f"{source}: expected one private key and its certificate chain in PEM files, found "
                         f"{len(keys)} keys and {len(certs)} certificates")
    return SigningKey(keys[0], b"".join(certs), _algorithm(keys[0], source), source)


def _pem_blocks(path: Path, source: str) -> list[tuple[bytes, bytes]]:
    try:
        if path.stat().st_size > MAX_PEM:
            raise AekitError(f"{path} ({source}) is too large for a PEM file of keys and certificates")
        data = path.read_bytes()
    except OSError as e:
        raise AekitError(f"{path} ({source}) cannot be read ({e.strerror})") from None
    return [(m.group(1), m.group(0)) for m in PEM_BLOCK.finditer(data)]


def _algorithm(key_pem: bytes, source: str) -> str:
    """c2pa's name for the algorithm a private key signs with (an EC key's curve fixes its hash)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as e:  # TypeError: the key is encrypted
        raise AekitError(f"{source}: the private key cannot be read ({e}); give an unencrypted PEM key") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curves = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in curves:
            return curves[key.curve.name]
    elif isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise AekitError(f"{source}: C2PA signs with EC P-256/384/521, RSA or Ed25519 keys, not this one")


def _in_date(chain_pem: bytes, margin: datetime.timedelta = datetime.timedelta(days=1)) -> bool:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(chain_pem)
    now = datetime.datetime.now(datetime.timezone.utc)
    return cert.not_valid_before_utc <= now and now + margin < cert.not_valid_after_utc


def make_local_signer(folder: Path) -> SigningKey:
    """A new local CA and an end-entity certificate it issues, written to ``folder``: ``local-signer.pem`` (key and
    certificate, owner-only) and ``local-ca.pem``. The CA's key is never written."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca, cert = _local_certificates(ca_key, key)
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    chain = cert.public_bytes(pem)  # the CA's own certificate stays out of the chain: 426 bytes less per manifest
    make_folder(folder)
    atomic_write(folder / LOCAL_CA, ca.public_bytes(pem))
    atomic_write(folder / LOCAL_SIGNER, key_pem + chain, mode=0o600)  # one file: key and certificate change together
    return SigningKey(key_pem, chain, "es256", "aekit's local CA")


def _local_certificates(ca_key, key):
    """The local CA's self-signed certificate and the signer's certificate it issues (X.509 v3, the key usages
    C2PA asks of each)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=365 * LOCAL_YEARS)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                                                                          "aekit")])

    def base(subject: str, issuer: str, public_key) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))

    usage = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
                 encipher_only=False, decipher_only=False)
    ca = (base("aekit local CA", "aekit local CA", ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **usage),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (base(LOCAL_NAME, "aekit local CA", key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return ca, cert
