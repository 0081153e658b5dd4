"""``aekit generate`` and ``aekit interpolate``: new images from a run's model (marked as synthetic)."""

from __future__ import annotations

from aekit.cli.common import Formatter, add_output, seed_type


def add_arguments(sub) -> None:
    g = sub.add_parser("generate", help="new images from a trained model (marked as synthetic)",
                       formatter_class=Formatter)
    g.add_argument("run", metavar="RUN")
    g.add_argument("-n", type=int, default=64, help="number of samples")
    add_output(g, "replace existing files", metavar="PNG", help="grid of samples (default: RUN/samples.png)")
    g.add_argument("--separate", metavar="DIR", help="also write each sample as DIR/sample-NNNN.png")
    g.add_argument("--sampler", default="auto", choices=["auto", "prior", "gmm", "vq-prior"],
                   help="auto: a VAE's prior, a VQ-VAE's learned prior, else a Gaussian mixture over training codes")
    g.add_argument("--seed", type=seed_type, default=0, help="random seed")
    g.set_defaults(handler=run_generate)

    p = sub.add_parser("interpolate", help="decode the line between the codes of two inputs", formatter_class=Formatter)
    p.add_argument("run", metavar="RUN")
    p.add_argument("a", metavar="A", help="a test-image index or an image file")
    p.add_argument("b", metavar="B", help="a test-image index or an image file")
    p.add_argument("--steps", type=int, default=10, help="images along the line, ends included")
    add_output(p, "replace an existing file", metavar="PNG", help="strip of images (default: RUN/interpolation.png)")
    p.set_defaults(handler=run_interpolate)


def run_generate(a) -> int:
    from aekit.apps.generate import generate_run

    files = generate_run(a.run, n=a.n, out=a.out, sampler=a.sampler, seed=a.seed, separate=a.separate, force=a.force)
    print(files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} separate images in {files[1].parent}")
    return 0


def run_interpolate(a) -> int:
    from aekit.apps.generate import interpolate_run

    print(interpolate_run(a.run, a.a, a.b, steps=a.steps, out=a.out, force=a.force))
    return 0
