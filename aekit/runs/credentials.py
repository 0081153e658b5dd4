"""C2PA content credentials for the images aekit writes from a model: written with the official ``c2pa-python``
bindings, signed with the key ``aekit.runs.signing`` finds, and read back with c2pa's own validation.

A manifest holds one action besides c2pa's own ``c2pa.opened``:

- ``c2pa.created``, IPTC digital source type ``trainedAlgorithmicMedia``: an image a model made (generate,
  interpolate, swap); ``compositeWithTrainedAlgorithmicMedia``: a figure that sets model output beside real images.
- ``c2pa.edited``, ``trainedAlgorithmicMedia``: a model's rendering of the user's own input (denoise, decompress),
  which is the manifest's parent ingredient (its name and format, and its own manifest if it has one).

The action's ``softwareAgent`` is aekit and its version; the ``aekit.provenance`` assertion holds the provenance mark
(operation, the model's weights fingerprint, ...). No thumbnail; nothing goes over the network (no timestamp
authority, no OCSP, no remote manifests).

Reading gives one of four states: ``valid`` (intact, and a trust anchor vouches for the signer), ``untrusted``
(intact, but none does: aekit's local CA), ``tampered`` (the pixels, the manifest or its signature changed after
signing, or the manifest cannot be parsed), ``absent`` (none; c2pa cannot hold one in a ``.npy`` array).
"""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

from aekit._version import __version__
from aekit.errors import AekitError
from aekit.runs.signing import signing_key, trust_anchors

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED, COMPOSITE = IPTC + "trainedAlgorithmicMedia", IPTC + "compositeWithTrainedAlgorithmicMedia"
CREATED, EDITED = "c2pa.created", "c2pa.edited"
ASSERTION = "aekit.provenance"
VALID, UNTRUSTED, TAMPERED, ABSENT = "valid", "untrusted", "tampered", "absent"
OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
           "builder": {"thumbnail": {"enabled": False}, "claim_generator_info": {"name": "aekit",
                                                                                 "version": __version__}}}
# Failures about who signed, not about what was signed: the file is intact, its signer not vouched for.
CREDENTIAL_CODES = ("signingCredential.", "timeStamp.", "claimSignature.outsideValidity")


def _c2pa():
    try:
        import c2pa
    except ImportError as e:  # a core dependency: only a broken install lacks it
        raise AekitError(f"content credentials need the c2pa-python package, which cannot be imported ({e})") from None
    return c2pa


def _definition(mark: dict, title: str, edit: bool, composite: bool) -> dict:
    """The manifest definition: one action and the aekit assertion."""
    action = {"action": EDITED if edit else CREATED, "digitalSourceType": COMPOSITE if composite else TRAINED,
              "softwareAgent": {"name": "aekit", "version": __version__}}
    return {"claim_generator_info": [{"name": "aekit", "version": __version__}], "title": title,
            "format": "image/png",
            "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}},
                           {"label": ASSERTION, "data": mark}]}


def sign_png(png: bytes, mark: dict, title: str, parent: Path | None = None, composite: bool = False) -> bytes:
    """``png`` with a signed C2PA manifest embedded: ``c2pa.created`` (a ``composite`` figure, or an image a model
    made), or ``c2pa.edited`` with ``parent``, the input file it was made from, as its parent ingredient."""
    c2pa = _c2pa()
    key = signing_key()
    info = c2pa.C2paSignerInfo(key.alg, key.chain_pem, key.key_pem, None)  # no timestamp authority: offline
    out = io.BytesIO()
    try:
        with c2pa.Context.from_dict(OFFLINE) as ctx, c2pa.Signer.from_info(info) as signer, \
                c2pa.Builder(_definition(mark, title, parent is not None, composite), ctx) as builder:
            if parent is not None:
                builder.set_intent(c2pa.C2paBuilderIntent.EDIT)  # c2pa adds the c2pa.opened action for the parent
                with open(parent, "rb") as f:
                    fmt = mimetypes.guess_type(parent.name)[0] or "application/octet-stream"
                    builder.add_ingredient({"title": parent.name, "relationship": "parentOf"}, fmt, f)
            builder.sign(signer, "image/png", io.BytesIO(png), out)
    except c2pa.C2paError as e:
        raise AekitError(f"{title}: signing its content credentials with {key.source}'s key failed ({e})") from None
    return out.getvalue()


@dataclass(frozen=True)
class Credentials:
    """What ``read_credentials`` found: the state, and (when a manifest was read) its action and digital source
    type, the aekit version and model fingerprint it records, who signed it (the signing certificate's common name
    and organisation), and c2pa's failure codes."""

    state: str
    action: str | None = None
    source_type: str | None = None
    version: str | None = None
    fingerprint: str | None = None
    signer: str | None = None
    problems: list[str] = field(default_factory=list)


def read_credentials(path: str | Path) -> Credentials:
    """Read and validate a file's C2PA manifest with c2pa's own validation, offline, against the user's trust
    anchors (``aekit.runs.signing.trust_anchors``)."""
    c2pa = _c2pa()
    anchors = trust_anchors()
    settings = {**OFFLINE, "trust": {"user_anchors": anchors}} if anchors else OFFLINE
    try:
        with c2pa.Context.from_dict(settings) as ctx:
            reader = c2pa.Reader.try_create(str(path), context=ctx)
            if reader is None:
                return Credentials(ABSENT)
            with reader:
                return _summary(reader.get_validation_state(), reader.get_validation_results() or {},
                                reader.get_active_manifest() or {})
    except c2pa.C2paError.NotSupported:
        return Credentials(ABSENT)
    except c2pa.C2paError as e:  # a manifest c2pa cannot parse: it was damaged
        return Credentials(TAMPERED, problems=[str(e).splitlines()[0]])


def _summary(state: str | None, results: dict, manifest: dict) -> Credentials:
    failures = [f.get("code", "?") for f in results.get("activeManifest", {}).get("failure", [])]
    broken = [c for c in failures if not c.startswith(CREDENTIAL_CODES)]
    if broken or (state == "Invalid" and not failures):
        verdict = TAMPERED
    else:
        verdict = VALID if state == "Trusted" else UNTRUSTED
    assertions = {a.get("label"): a.get("data", {}) for a in manifest.get("assertions", [])}
    actions = next((d.get("actions", []) for label, d in assertions.items() if label.startswith("c2pa.actions")), [])
    act = next((a for a in reversed(actions) if a.get("action") != "c2pa.opened"), {})
    ours = assertions.get(ASSERTION, {})
    sig = manifest.get("signature_info", {})
    signer = sig.get("common_name") and f"{sig['common_name']} ({sig.get('issuer') or 'no organisation'})"
    source = act.get("digitalSourceType")
    return Credentials(verdict, act.get("action"), source.rsplit("/", 1)[-1] if source else None,
                       ours.get("version"), ours.get("model_fingerprint"), signer, broken or failures)
