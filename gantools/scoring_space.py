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

import numpy as np
import torch

from gantools.preprocessing import quantile_knots


class ScoringSpace:
    """Maps preprocessed rows to standardised original units, column by column, on any device.

    All quantile-mapped columns are mapped at once (their knots padded to one length), so the cost per
    batch does not grow with Python work per column.
    """

    def __init__(self, params: list[dict[str, Any]], blocks: list[Any], device: torch.device) -> None:
        columns = []
        for block in blocks:
            p = params[block.column]
            if block.kind != "num" or p.get("method") != "quantile" or len(p["values"]) < 2:
                continue
            zp, fp = quantile_knots(p)
            columns.append((block.start, zp, fp, float(p["mean"]), float(p["std"])))
        self.n_columns = len(columns)
        if not columns:
            return
        width = max(len(zp) for _, zp, _, _, _ in columns)
        knots_z = np.full((len(columns), width), np.inf)  # +inf padding: never below a finite value
        knots_f = np.zeros((len(columns), width))
        for i, (_, zp, fp, _, _) in enumerate(columns):
            knots_z[i, : len(zp)], knots_f[i, : len(fp)], knots_f[i, len(fp) :] = zp, fp, fp[-1]

        def tensor(values: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.as_tensor(np.asarray(values), dtype=dtype, device=device)

        self.positions = tensor([c[0] for c in columns], torch.long)
        self.knots_z, self.knots_f = tensor(knots_z), tensor(knots_f)
        self.last = tensor([[len(c[1]) - 1] for c in columns], torch.long)  # (C, 1): each column's last knot
        self.means = tensor([[c[3]] for c in columns])
        self.stds = tensor([[c[4]] for c in columns])  # also the slope of the map beyond the training range

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        if not self.n_columns:
            return X
        zp, fp = self.knots_z, self.knots_f
        z = X[:, self.positions].T.contiguous()  # (C, n)
        idx = torch.minimum(torch.searchsorted(zp, z).clamp_(min=1), self.last)
        z0, z1, f0, f1 = zp.gather(1, idx - 1), zp.gather(1, idx), fp.gather(1, idx - 1), fp.gather(1, idx)
        width = z1 - z0
        t = torch.where(width > 0, (z - z0) / torch.where(width > 0, width, torch.ones_like(width)), 0.5)
        value = f0 + t.clamp(0, 1) * (f1 - f0)
        z_top, f_top = zp.gather(1, self.last), fp.gather(1, self.last)
        value = torch.where(z > z_top, f_top + (z - z_top) * self.stds, value)
        value = torch.where(z < zp[:, :1], fp[:, :1] + (z - zp[:, :1]) * self.stds, value)
        out = X.clone()
        out[:, self.positions] = ((value - self.means) / self.stds).T
        return out
