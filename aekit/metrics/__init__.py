"""Metrics: pure functions of arrays and models (reconstruction quality, the PCA baseline, AUROC, FID)."""
