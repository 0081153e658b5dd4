"""Applications of a trained run, one module each; every entry point takes a ``Run`` (or the folder to open):
evaluate and reconstruct, denoise, embed, compress/decompress, generate/interpolate, anomalies, swap, detect."""
