"""A self-contained HTML page from plain parts: tables, inlined PNG figures, sections.

Every string that reaches the page passes through ``esc`` (run folders are untrusted: a config value may hold
markup), and the page's Content-Security-Policy allows no script and no request but ``data:`` images, so a
string that slipped through could neither run nor reach the network.
"""

from __future__ import annotations

import base64
import html
import json

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { padding: 2px 10px; border-bottom: 1px solid #eee; white-space: nowrap; }
th { text-align: left; background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
code, td.v { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; white-space: normal; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { max-width: 100%; } img.pixels { image-rendering: pixelated; width: 360px; }
figcaption { font-size: 12px; color: #555; max-width: 640px; }
p.note { color: #555; font-size: 13px; } summary { cursor: pointer; margin: 0.5em 0; }
div.columns { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 0 2em; }
"""


def esc(value) -> str:
    """``value`` as page text: markup characters escaped, quotes included (safe in text and attributes)."""
    return html.escape(value if isinstance(value, str) else str(value), quote=True)


def show(value) -> str:
    """A config value as compact text: numbers with 6 significant digits, lists and dicts as JSON."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return "—" if value is None else str(value)


def figure(png: bytes, caption: str, name: str, pixels: bool = False) -> str:
    """A PNG inlined as a data: URI, with its caption; ``name`` tags it (``data-figure``) for whoever reads the
    page; ``pixels``: drawn enlarged with hard pixel edges (a grid of small images)."""
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    cls = ' class="pixels"' if pixels else ""
    return (f'<figure><img src="{uri}" alt="{esc(caption)}" data-figure="{esc(name)}"{cls}>'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def table(header: list[str], rows: list[list], numeric_from: int = 1) -> str:
    """A table: ``header`` then ``rows`` of cells (each shown with ``show`` and escaped); cells from column
    ``numeric_from`` on are right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c, i >= numeric_from) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value, numeric: bool) -> str:
    return f'<td class="n">{esc(show(value))}</td>' if numeric else f"<td>{esc(show(value))}</td>"


def key_values(items: dict, title: str | None = None) -> str:
    """A two-column table of names and values (a config), values in monospace."""
    rows = "".join(f'<tr><td>{esc(k)}</td><td class="v">{esc(show(v))}</td></tr>' for k, v in items.items())
    caption = f"<h3>{esc(title)}</h3>" if title else ""
    return f"{caption}<table><tbody>{rows}</tbody></table>"


def columns(*parts: str) -> str:
    """``parts`` (HTML) side by side, as many to a row as the window holds."""
    return '<div class="columns">' + "".join(f"<div>{p}</div>" for p in parts) + "</div>"


def details(summary: str, body: str) -> str:
    """``body`` (HTML) folded under a line of ``summary`` that opens it (no script: the browser's own)."""
    return f"<details><summary>{esc(summary)}</summary>{body}</details>"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def section(title: str, body: str, level: int = 2, anchor: str | None = None) -> str:
    """A heading and its ``body`` (HTML made by this module's functions)."""
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h{level}>{esc(title)}</h{level}>{body}</section>"


def page(title: str, body: str) -> str:
    """The whole document: no script, no outside URL; the policy forbids any request but data: images."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
            f"<body><h1>{esc(title)}</h1>{body}</body></html>\n")
