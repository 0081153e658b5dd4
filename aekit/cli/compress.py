"""``aekit compress`` and ``aekit decompress``: images to .aek files and back with a compression run."""

from __future__ import annotations

from aekit.cli.common import Formatter, add_output


def add_arguments(sub) -> None:
    cp = sub.add_parser("compress", help="compress images into .aek files with a compression run "
                        "(`aekit train --model compress`)", formatter_class=Formatter)
    cp.add_argument("run", metavar="RUN")
    cp.add_argument("inputs", metavar="INPUT", nargs="+", help="image files or folders of images")
    add_output(cp, "replace existing files", metavar="DIR", required=True, help="folder for the files (<name>.aek)")
    cp.add_argument("--level", type=int, help="quality level, 0 (smallest files) up; default: the run's default")
    cp.add_argument("--refine", type=int, default=0, metavar="STEPS",
                    help="optimise each image's code for its level's rate and quality before coding (encoder side "
                    "only: any decoder reads the files; about 50 steps, each a decoder pass; 0: off)")
    cp.add_argument("--device", default="cpu", help="device to run the encoder on")
    cp.set_defaults(handler=run_compress)

    dc = sub.add_parser("decompress", help="decode .aek files into PNGs (marked as model output)",
                        formatter_class=Formatter)
    dc.add_argument("run", metavar="RUN", help="the compression run that wrote the files")
    dc.add_argument("inputs", metavar="FILE", nargs="+", help=".aek files")
    add_output(dc, "replace existing images", metavar="DIR", required=True, help="folder for the images (<name>.png)")
    dc.add_argument("--device", default="cpu", help="device to run the decoder on")
    dc.add_argument("--watermark", action="store_true",
                    help="also hide aekit's invisible watermark in the images' pixels (off: they are your own images)")
    dc.set_defaults(handler=run_decompress)


def run_compress(a) -> int:
    from aekit.apps.compress import TILES, coding, compress_files

    files = compress_files(a.run, a.inputs, a.out, level=a.level, force=a.force, device=a.device, refine=a.refine)
    mode, (h, w) = coding(a.run)
    how = (f"in {h}x{w} tiles, as the run was trained on {h}x{w} patches" if mode == TILES else
           f"whole, other sizes resized to {h}x{w} and back, as the run was trained on whole images")
    print(f"{len(files)} files, {sum(f.stat().st_size for f in files)} bytes in {a.out} (images coded {how})")
    return 0


def run_decompress(a) -> int:
    from aekit.apps.compress import decompress_files

    for f in decompress_files(a.run, a.inputs, a.out, force=a.force, device=a.device,
                                pixel_mark=a.watermark):
        print(f)
    return 0
