"""``aekit denoise``: clean noisy images or arrays with one run's model or an ensemble (outputs are marked)."""

from __future__ import annotations

from aekit.cli.common import Formatter, add_output


def add_arguments(sub) -> None:
    dn = sub.add_parser("denoise", help="clean noisy images or arrays with a run's model (outputs are marked)",
                        formatter_class=Formatter)
    dn.add_argument("run", metavar="RUN")
    dn.add_argument("inputs", metavar="INPUT", nargs="+", help="image files or .npy arrays in the run's data units")
    add_output(dn, "replace existing results", metavar="DIR", required=True,
               help="folder for the results (<name>.png / <name>.npy)")
    dn.add_argument("--ensemble", metavar="RUN2", action="append", default=[],
                    help="another run for the same data; the result is the mean of every run's output (repeatable)")
    dn.add_argument("--overlap", type=int, metavar="PIXELS",
                    help="images of another size than the model's go through it in tiles of its size, blended; "
                         "pixels shared by neighbouring tiles (default: half a tile)")
    dn.add_argument("--sigma", type=float, metavar="S",
                    help="the images' Gaussian noise level in [0, 1] (25 of 255 is 0.098) instead of estimating it "
                         "per image; a denoiser of one noise level gets inputs less noisy than that raised to its level")
    dn.add_argument("--device", default="cpu", help="device to run the model on")
    dn.add_argument("--watermark", action="store_true",
                    help="also hide aekit's invisible watermark in the images' pixels (off: they are your own images)")
    dn.set_defaults(handler=run)


def run(a) -> int:
    from aekit.apps.denoise import denoise_files

    for f in denoise_files(a.run, a.inputs, a.out, force=a.force, device=a.device, ensemble=a.ensemble,
                           overlap=a.overlap, sigma=a.sigma, pixel_mark=a.watermark):
        print(f)
    return 0
