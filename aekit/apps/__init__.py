"""Applications built on trained runs: generation (more to come: denoise, embed, compress, anomalies, swap)."""
