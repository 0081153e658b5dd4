"""``aekit inspect``: the content credentials and the provenance mark aekit puts in every synthetic file."""

from __future__ import annotations

import json

from aekit.cli.common import Formatter

DESCRIPTION = """\
One line per file: its C2PA content credentials, validated by c2pa offline, then aekit's provenance mark.
  valid      intact, signed by a certificate that one of your trust anchors vouches for
  untrusted  intact, but no trust anchor vouches for the signer (aekit's local certificate authority)
  tampered   the pixels, the manifest or its signature changed after signing
  absent     no manifest (arrays keep their mark in a side-car .provenance.json)
Exit status 0, or 3 when a file has neither credentials nor a mark, 4 when any credentials were tampered with.
Signing key: AEKIT_C2PA_SIGNER (key and certificate PEM files), else <config>/c2pa/signer.pem, else a local CA made
on first use; trust anchors: AEKIT_C2PA_TRUST (a PEM file), else <config>/c2pa/trust.pem. <config> is
$AEKIT_CONFIG, else ~/.config/aekit."""


def add_arguments(sub) -> None:
    ins = sub.add_parser("inspect", help="check the content credentials and provenance mark of synthetic files",
                         description=DESCRIPTION, formatter_class=Formatter)
    ins.add_argument("files", metavar="FILE", nargs="+")
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


def run(a) -> int:
    from aekit.runs.credentials import read_credentials
    from aekit.runs.provenance import read_mark

    status = 0
    for f in a.files:
        mark = read_mark(f)  # first: a missing or unreadable file is one error line
        creds = read_credentials(f)
        mark_text = f"mark {json.dumps(mark, sort_keys=True)}" if mark else "no aekit provenance mark"
        print(f"{f}: {credentials_text(creds)}; {mark_text}")
        if creds.state == "tampered":
            status = 4
        elif creds.state == "absent" and not mark and status == 0:
            status = 3
    return status
