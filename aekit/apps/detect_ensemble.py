"""The ensemble detector: several detector networks (views), each score ranked among real images' scores; an image's
score is its highest rank.

No one network generalises both ways (``benchmarks/detect.py``): the spectral model (``detect_spectral``) reads how
smooth an image's grey levels are, which catches denoisers and decompressors it never saw but also calls blurred real
ink synthetic; the residual CNN trained without augmentation (``detect_net``) reads colour residuals and ranks another
swap run's outputs well, but what it leans on changes with its seed. Put on one scale, the share of real images that
score lower, views combine by their maximum: an image is as suspicious as its most suspicious view finds it (each
view added also adds its share of real images' top ranks, so the threshold rises with the number of views). The
scale is a set of real images' scores per view: the run's held-out validation images when the detector is trained,
or a user's own real images of the kind checked (``rescaled``, as ``aekit detect --reference`` does), which removes
the offsets between kinds of real image that no one threshold can.

    net = EnsembleNet([spectral, cnn0, cnn1, cnn2], scale_size=len(real)).set_scale(real)
    score_images(net, images)          # the highest rank among the scale's real images, in (0, 1)
    net.rescaled(reference)            # the same views ranked among other real images
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from aekit.apps.detect_net import BATCH, images_to_model_space


def ranks(reference: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Scores on the scale of reference scores, in (0, 1): (the number of reference scores below a score + 1/2 +
    atan(score) / pi) / (n + 1). The atan term keeps scores that fall between the same two reference scores (or
    beyond all of them) in order without reaching the next step. ``reference`` (V, n), each row sorted; ``scores``
    (B, V) -> (B, V) float64."""
    reference, scores = reference.double(), scores.double()
    below = torch.searchsorted(reference, scores.T.contiguous()).T.double()
    return (below + 0.5 + torch.atan(scores) / math.pi) / (reference.shape[1] + 1)


class EnsembleNet(nn.Module):
    """Views (detector networks giving logits (B,) of the same input shape) ranked among the logits of
    ``scale_size`` real images each (the buffer ``scale``, (V, n), set by ``set_scale``); ``forward`` gives the
    logit of the highest rank, so that ``score_images`` returns the rank itself."""

    def __init__(self, views: list[nn.Module], scale_size: int):
        super().__init__()
        if not views or scale_size < 1:
            raise ValueError("an ensemble needs at least one view and one real image to rank among")
        shapes = {tuple(v.input_shape) for v in views}
        if len(shapes) != 1:
            raise ValueError(f"the views take different input shapes: {sorted(shapes)}")
        self.views = nn.ModuleList(views)
        self.input_shape = shapes.pop()
        self.register_buffer("scale", torch.zeros(len(views), scale_size, dtype=torch.float64))

    def view_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images in [0, 1] -> every view's logits (B, V), float64."""
        return torch.stack([view(x).double() for view in self.views], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = ranks(self.scale, self.view_logits(x)).amax(1)
        return torch.log(p) - torch.log1p(-p)

    def to_model_space(self, images: np.ndarray) -> torch.Tensor:
        return images_to_model_space(images, self.input_shape)

    @torch.no_grad()
    def set_scale(self, real: np.ndarray) -> EnsembleNet:
        """Rank from now on among the views' logits of uint8 ``real`` images (as many as ``scale_size``, or more
        after ``rescaled``); returns self, in eval mode."""
        if len(real) == 0:
            raise ValueError("an ensemble's scale needs at least one real image")
        self.eval()
        x = self.to_model_space(real)
        logits = torch.cat([self.view_logits(x[i : i + BATCH]) for i in range(0, len(x), BATCH)])
        self.scale = logits.T.sort(1).values.contiguous()
        return self

    def left_out(self, scores: np.ndarray) -> np.ndarray:
        """The scores of the very images the scale was set on (as ``score_images`` gives them), each as if ranked
        among the others only (leave one out): an image never scores above itself, so in the set it lands one step
        lower than a new image of the same kind would; left out, their scores are distributed as a new one's, and a
        threshold set on them lets through the share it says (as in conformal prediction)."""
        n = self.scale.shape[1]
        return np.asarray(scores) * (n + 1) / n

    def rescaled(self, real: np.ndarray) -> EnsembleNet:
        """A copy ranking among uint8 ``real`` images of the kind being checked instead."""
        return copy.deepcopy(self).set_scale(real)
