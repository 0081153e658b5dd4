"""``aekit serve``: a local web app over trained runs."""

from __future__ import annotations

from aekit.cli.common import Formatter


def add_arguments(sub) -> None:
    sv = sub.add_parser("serve", help="a local web app over trained runs: draw or upload, reconstruct, denoise, "
                        "compress, latent map, swap, anomalies (needs the serve extra: pip install aekit[serve])",
                        formatter_class=Formatter,
                        description="Pages: reconstruct (draw a digit or upload an image: every run's reconstruction "
                        "side by side, with MSE and SSIM), denoise (noise of a chosen kind and strength added, and "
                        "cleaned by a denoising run, with PSNR), compress (a compression run's .aek size and decoded "
                        "image at each quality level, beside JPEG and WebP of about the same size), latent map (the "
                        "test set's codes in 2-D, click to decode any point, hover for the nearest test image, "
                        "interpolate, samples of generative runs), swap (swap runs: an image rendered as another "
                        "domain, downloads marked as synthetic) and anomalies (images or a CSV ranked by the run's "
                        "anomaly score). "
                        "Everything is served from the installed package; nothing is fetched from elsewhere, and "
                        "nothing is written into the run folders.")
    sv.add_argument("runs", metavar="RUN", nargs="+", help="run folders to serve")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (another than the loopback makes "
                    "the runs reachable from other machines)")
    sv.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free port)")
    sv.add_argument("--threads", type=int, help="torch threads for the models (default: CPUs, at most 4)")
    sv.set_defaults(handler=run)


def run(a) -> int:
    from importlib.util import find_spec

    from aekit.errors import AekitError

    missing = [name for name in ("starlette", "uvicorn", "multipart") if find_spec(name) is None]
    if missing:
        raise AekitError(f"aekit serve needs the serve extra: pip install 'aekit[serve]' ({', '.join(missing)} "
                         "missing)")
    from aekit.serve.server import serve

    serve(a.runs, host=a.host, port=a.port, threads=a.threads, ready=lambda url: print(f"serving on {url}", flush=True))
    return 0
