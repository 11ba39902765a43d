"""Where reconstruction residuals are measured: the original units of each column, standardised.

G and E work in the preprocessed space, where skewed columns are quantile-mapped to normal scores. That
map squeezes the tails, which is where many anomalies live (a hormone level ten times the usual is only a
little further out in normal scores). So before the residual is taken, quantile-mapped columns of both the
record and its reconstruction are mapped back to original units (the exact inverse of the preprocessor's
map, with the same linear extrapolation beyond the training range) and standardised by the training mean
and standard deviation. Standardised and one-hot columns are already in such units and pass through.
"""

from __future__ import annotations

from typing import Any

import torch

from gantools.preprocessing import quantile_knots


class ScoringSpace:
    """Maps preprocessed rows to standardised original units, column by column, on any device."""

    def __init__(self, params: list[dict[str, Any]], blocks: list[Any], device: torch.device) -> None:
        self.columns: list[tuple[int, torch.Tensor, torch.Tensor, float, float]] = []
        for block in blocks:
            p = params[block.column]
            if block.kind != "num" or p.get("method") != "quantile" or len(p["values"]) < 2:
                continue
            zp, fp = quantile_knots(p)
            self.columns.append(
                (
                    block.start,
                    torch.as_tensor(zp, dtype=torch.float32, device=device),
                    torch.as_tensor(fp, dtype=torch.float32, device=device),
                    float(p["mean"]),
                    float(p["std"]),  # also the slope of the map beyond the training range
                )
            )

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        if not self.columns:
            return X
        out = X.clone()
        for pos, zp, fp, mean, std in self.columns:
            z = X[:, pos].contiguous()
            idx = torch.searchsorted(zp, z).clamp(1, len(zp) - 1)
            z0, z1, f0, f1 = zp[idx - 1], zp[idx], fp[idx - 1], fp[idx]
            width = z1 - z0
            t = torch.where(width > 0, (z - z0) / torch.where(width > 0, width, torch.ones_like(width)), 0.5)
            value = f0 + t.clamp(0, 1) * (f1 - f0)
            value = torch.where(z > zp[-1], fp[-1] + (z - zp[-1]) * std, value)
            value = torch.where(z < zp[0], fp[0] + (z - zp[0]) * std, value)
            out[:, pos] = (value - mean) / std
        return out
