"""`aekit serve` under load: concurrent clients posting digits to the reconstruct page's API on loopback.

The server runs as its own process (`python -m aekit serve RUN --port 0`) over one seed-sized run (the article's
dense 784-128-32-128-784, trained here for one epoch with the `fast` recipe, or ``--run``). Each client thread keeps
one HTTP connection and posts MNIST test digits as PNG uploads, one after another. After a warm-up of the same
clients, the timed round: errors (any answer but 200), requests per second, latency percentiles, and the server
process's resident memory (RSS) after the warm-up and after the timed round.

    PYTHONPATH=. python benchmarks/serve_load.py --clients 8 --requests 200
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import argv_text, command, machine, table, update, write_result  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BOUNDARY = "aekit-load"
RSS_LIMIT_MB = 50


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (Linux: /proc)."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text)[1]) / 1024


def upload(digit: np.ndarray) -> bytes:
    """A multipart body with one PNG digit, as the page sends an upload."""
    buf = io.BytesIO()
    Image.fromarray(digit).save(buf, format="PNG")
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="source"\r\n\r\nupload\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="digit.png"\r\n'
            "Content-Type: image/png\r\n\r\n").encode()
    return head + buf.getvalue() + f"\r\n--{BOUNDARY}--\r\n".encode()


def client(port: int, bodies: list[bytes], n: int, latencies: list[float], errors: list[str]) -> None:
    """``n`` requests on one keep-alive connection; each latency in seconds, each failure's reason."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    for i in range(n):
        t = time.perf_counter()
        try:
            conn.request("POST", "/api/reconstruct", body=bodies[i % len(bodies)], headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(f"HTTP {response.status}")
        except (OSError, http.client.HTTPException) as e:
            errors.append(type(e).__name__)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        latencies.append(time.perf_counter() - t)
    conn.close()


def load(port: int, bodies: list[bytes], clients: int, requests: int) -> dict:
    """``clients`` threads of ``requests`` requests each, all at once."""
    latencies: list[float] = []
    errors: list[str] = []
    threads = [threading.Thread(target=client, args=(port, bodies[c::clients], requests, latencies, errors))
               for c in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t
    ms = np.array(latencies) * 1000
    return {"requests": len(latencies), "errors": len(errors), "error_kinds": sorted(set(errors)), "wall_s": wall,
            "requests_per_s": len(latencies) / wall, "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)), "max_ms": float(ms.max())}


def start_server(run: Path, threads: int) -> tuple[subprocess.Popen, int]:
    """`aekit serve RUN --port 0` as a child process, and the port it says it listens on."""
    cmd = [sys.executable, "-m", "aekit", "serve", str(run), "--port", "0"] + (["--threads", str(threads)] if threads
                                                                              else [])
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not found:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, int(found[1])


def train_run(folder: Path) -> Path:
    """A seed-sized run (the `fast` recipe, one epoch on MNIST): the load is the same whatever its quality."""
    from aekit.cli import main as aekit

    run = folder / "seed-sized"
    if aekit(["train", "--preset", "fast", "--epochs", "1", "--out", str(run), "--no-progress", "--no-eval"]):
        raise SystemExit("training the run failed")
    return run


def measure(run: Path, clients: int, requests: int, warmup: int, threads: int) -> dict:
    from aekit.data import load_dataset

    bodies = [upload(d) for d in load_dataset("mnist").x_test[:256]]
    proc, port = start_server(run, threads)
    try:
        rss_start = rss_mb(proc.pid)
        warm = load(port, bodies, clients, warmup)
        rss_warm = rss_mb(proc.pid)
        timed = load(port, bodies, clients, requests)
        rss_end = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    return {"clients": clients, "requests_per_client": requests, "warmup_per_client": warmup, "timed": timed,
            "warmup_errors": warm["errors"], "rss_mb": {"started": rss_start, "after_warmup": rss_warm,
                                                         "after_load": rss_end},
            "rss_growth_mb": rss_end - rss_warm}


def section(results: dict) -> str:
    """BENCHMARKS.md's `serve_load` section: one row per serve_load*.json."""
    rows = []
    for name, r in results.items():
        t, rss = r["timed"], r["rss_mb"]
        rows.append([name, f"{r['clients']} x {r['requests_per_client']}", str(t["errors"]),
                     f"{t['requests_per_s']:.0f}", f"{t['p50_ms']:.1f}", f"{t['p95_ms']:.1f}",
                     f"{rss['after_warmup']:.0f}", f"{r['rss_growth_mb']:+.1f}"])
    return "\n".join([
        "`aekit serve` over one seed-sized run (dense 784-128-32-128-784) in its own process; client threads on "
        "loopback, each with one keep-alive connection, post MNIST test digits as PNG uploads to the reconstruct "
        "page's API (`POST /api/reconstruct`: decode the upload, resize, reconstruct, MSE and SSIM, two PNGs back "
        "as data URLs). After a warm-up round of the same clients, the timed round: any answer but 200 counts as an "
        "error; latency per request as a client sees it; RSS of the server process after the warm-up, and its "
        f"growth over the timed round (target: under {RSS_LIMIT_MB} MB).", "",
        *table(["variant", "clients x requests", "errors", "requests/s", "p50 ms", "p95 ms", "RSS MB", "RSS growth MB"],
               rows), "",
        "Command: " + "; ".join(command("serve_load.py", r["argv"], drop=("--run",)) for r in results.values()), "",
        "**Where aekit falls short.** Model calls hold one lock, so requests queue rather than run at once: p95 "
        "latency grows with the number of clients, and throughput is that of one request at a time (the lock keeps "
        "memory and threads bounded under a burst; a server for many users would batch requests instead)."])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="run folder to serve (default: train a seed-sized run into a temporary folder)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=200, help="timed requests per client")
    ap.add_argument("--warmup", type=int, default=25, help="warm-up requests per client")
    ap.add_argument("--threads", type=int, default=0, help="the server's torch threads (default: its own)")
    ap.add_argument("--name", default="serve_load", help="result variant name")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.run) if args.run else train_run(Path(tmp))
        result = measure(run, args.clients, args.requests, args.warmup, args.threads)
    result |= {"argv": argv_text(argv), "machine": machine()}
    print(json.dumps(result, indent=2))
    write_result(args.name, result)
    update("serve_load", section)
    return result


if __name__ == "__main__":
    main()
