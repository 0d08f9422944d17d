"""SSIM loss, 1 - SSIM, in 2D and 3D through pytorch-msssim."""

from __future__ import annotations

import torch
from torch import nn

from mrigan.nn.layers import check_spatial_dims


class SSIMLoss(nn.Module):
    """1 - SSIM (Wang et al., 2004) with an 11-tap Gaussian window (sigma 1.5), differentiable.

    Computed by `pytorch_msssim.ssim`, which handles (N, C, H, W) and (N, C, D, H, W) alike with a separable
    Gaussian filter and no padding (the border strip of half a window is left out, as scikit-image does).
    SSIM is computed per channel and averaged over channels and the batch. Inputs are cast to float32 (under
    autocast too): the variance terms lose too much in float16.

    Args:
        data_range: span of the intensities (1.0 for images in [0, 1], 2.0 for [-1, 1]).
        spatial_dims: 2 or 3.
        win_size: Gaussian window size (odd); every spatial size must be at least this.
        win_sigma: Gaussian window standard deviation.
        k1: SSIM constant K1.
        k2: SSIM constant K2.

    Shape:
        prediction, target: (N, C, *S) with len(S) = spatial_dims -> scalar.
    """

    def __init__(
        self,
        data_range: float = 1.0,
        spatial_dims: int = 2,
        win_size: int = 11,
        win_sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
    ) -> None:
        super().__init__()
        self.spatial_dims = check_spatial_dims(spatial_dims)
        if not data_range > 0:
            raise ValueError(f"data_range must be positive, got {data_range}")
        if win_size < 3 or win_size % 2 == 0:
            raise ValueError(f"win_size must be odd and at least 3, got {win_size}")
        self.data_range = float(data_range)
        self.win_size = int(win_size)
        self.win_sigma = float(win_sigma)
        self.k = (float(k1), float(k2))

    def extra_repr(self) -> str:
        return f"data_range={self.data_range}, spatial_dims={self.spatial_dims}, win_size={self.win_size}"

    def ssim(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The SSIM itself (a scalar tensor), after the same checks as the loss."""
        from pytorch_msssim import ssim

        if prediction.shape != target.shape:
            raise ValueError(f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ")
        if prediction.ndim != self.spatial_dims + 2:
            raise ValueError(
                f"SSIMLoss(spatial_dims={self.spatial_dims}) expects {self.spatial_dims + 2}-D tensors, "
                f"got {tuple(prediction.shape)}"
            )
        if min(prediction.shape[2:]) < self.win_size:
            # pytorch-msssim would skip the smoothing along short axes (with only a warning) and squeeze
            # size-1 axes away: refuse instead of computing a different quantity
            raise ValueError(
                f"every spatial size must be at least win_size={self.win_size}, got {tuple(prediction.shape[2:])}"
            )
        with torch.autocast(device_type=prediction.device.type, enabled=False):
            return ssim(
                prediction.float(),
                target.float(),
                data_range=self.data_range,
                size_average=True,
                win_size=self.win_size,
                win_sigma=self.win_sigma,
                K=self.k,
            )

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """1 - SSIM(prediction, target): 0 for identical images, up to 2."""
        return 1.0 - self.ssim(prediction, target)
