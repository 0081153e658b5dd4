"""``aekit inspect``: the content credentials, the provenance mark and the pixel watermark aekit puts in synthetic
files."""

from __future__ import annotations

import json

from aekit.cli.common import Formatter

DESCRIPTION = """\
One line per file: its C2PA content credentials, validated by c2pa offline, aekit's provenance mark, then the
invisible watermark in the pixels of images a model made, which survives stripped metadata and JPEG, and on images
of 256x256 or more resizing and cropping too (it carries the first 5 hex digits of the model's fingerprint; with
--run, whether they are that run's).
  valid      intact, signed by a certificate that one of your trust anchors vouches for
  untrusted  intact, but no trust anchor vouches for the signer (aekit's local certificate authority)
  tampered   the pixels, the manifest or its signature changed after signing
  absent     no manifest (arrays keep their mark in a side-car .provenance.json)
Exit status 0, or 3 when a file has no credentials, mark or watermark, 4 when any credentials were tampered with.
Signing key: AEKIT_C2PA_SIGNER (key and certificate PEM files), else <config>/c2pa/signer.pem, else a local CA made
on first use; trust anchors: AEKIT_C2PA_TRUST (a PEM file), else <config>/c2pa/trust.pem. <config> is
$AEKIT_CONFIG, else ~/.config/aekit."""


def add_arguments(sub) -> None:
    ins = sub.add_parser("inspect", help="check the content credentials and provenance mark of synthetic files",
                         description=DESCRIPTION, formatter_class=Formatter)
    ins.add_argument("files", metavar="FILE", nargs="+")
    ins.add_argument("--run", metavar="RUN", help="say whether each watermark names this run's model")
    ins.set_defaults(handler=run)


def credentials_text(c) -> str:
    """``credentials STATE (what, by whom)``: one ``aekit.runs.credentials.Credentials`` in words."""
    if c.state == "absent":
        return "credentials absent"
    if c.state == "tampered":
        return f"credentials tampered ({', '.join(c.problems) or 'c2pa found the manifest invalid'})"
    parts = [p for p in (c.action, c.source_type) if p]
    if c.version:
        parts.append(f"aekit {c.version}")
    if c.fingerprint:
        parts.append(f"model {c.fingerprint[:12]}")
    who = f"signed by {c.signer or 'an unnamed certificate'}"
    parts.append(who if c.state == "valid" else f"{who}, which no trust anchor vouches for")
    return f"credentials {c.state} ({', '.join(parts)})"


def pixel_mark_text(found, fingerprint: str | None, run_name: str | None) -> str:
    """``pixel mark aekit (model PREFIX, ...)``: one ``aekit.runs.watermark.Detection`` in words."""
    if found is None:
        return "no pixel mark"
    words = [f"model {found.fingerprint_prefix}"]
    if found.scale != 1:
        words.append(f"read at {found.scale:g}x the marked size")
    if fingerprint is not None:
        same = fingerprint.startswith(found.fingerprint_prefix)
        words.append(f"{'matches' if same else 'does not match'} run {run_name}")
    return f"pixel mark aekit ({', '.join(words)})"


def run(a) -> int:
    from aekit.runs.credentials import read_credentials
    from aekit.runs.provenance import read_mark, read_pixel_mark
    from aekit.runs.run import as_run

    model = as_run(a.run) if a.run else None
    fingerprint, name = (model.fingerprint, model.name) if model else (None, None)
    status = 0
    for f in a.files:
        mark = read_mark(f)  # first: a missing or unreadable file is one error line
        creds = read_credentials(f)
        pixels = read_pixel_mark(f)
        mark_text = f"mark {json.dumps(mark, sort_keys=True)}" if mark else "no aekit provenance mark"
        print(f"{f}: {credentials_text(creds)}; {mark_text}; {pixel_mark_text(pixels, fingerprint, name)}")
        if creds.state == "tampered":
            status = 4
        elif creds.state == "absent" and not mark and pixels is None and status == 0:
            status = 3
    return status
