"""List every function in aekit/ longer than 60 lines (prints nothing, exits 0, when there is none)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LIMIT = 60


def long_functions(root: Path, limit: int = LIMIT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    found.append(f"{path}:{node.lineno}: {node.name} is {length} lines")
    return found


if __name__ == "__main__":
    repo = Path(__file__).resolve().parent.parent
    lines = [line.replace(f"{repo}/", "", 1) for line in long_functions(repo / "aekit")]
    print("\n".join(lines), end="\n" if lines else "")
    sys.exit(1 if lines else 0)
