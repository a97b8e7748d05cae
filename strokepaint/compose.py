"""Compositing, the one place it happens: canvas <- canvas * (1 - a) + a * colour, stroke after stroke.

Used by training (batched, differentiable, alpha from the neural renderer) and by painting
(alpha from a brush's exact rasterizer), so the two can never disagree.
"""

from __future__ import annotations

import torch


def composite(canvas: torch.Tensor, alpha: torch.Tensor, color: torch.Tensor) -> torch.Tensor:
    """Paint strokes over a canvas in order.

    canvas: [..., 3, H, W]   alpha: [..., N, H, W] (coverage x opacity, in [0, 1])
    color:  [..., N, 3]      returns the new canvas [..., 3, H, W]

    Differentiable; the gradient is computed in closed form (`_Composite`), not by autograd
    through N steps (with the renderer's fast path, a refinement step is 5-15 % faster: docs/engine.md, speed-ups).
    """
    if torch.is_grad_enabled() and (canvas.requires_grad or alpha.requires_grad or color.requires_grad):
        return _Composite.apply(canvas, alpha, color)
    return _lay(canvas, alpha, color)


def _lay(canvas: torch.Tensor, alpha: torch.Tensor, color: torch.Tensor, states: torch.Tensor | None = None) -> torch.Tensor:
    """The strokes laid one by one; `states` [..., N + 1, 3, H, W], if given, receives the canvas
    before each stroke and the finished one (each written once, in place)."""
    if states is not None:
        states.select(-4, 0).copy_(canvas)
    for i, (a, c) in enumerate(zip(alpha.unsqueeze(-3).unbind(-4), color[..., None, None].unbind(-4))):
        out = None if states is None else states.select(-4, i + 1)
        canvas = torch.lerp(canvas, c, a, out=out)  # canvas * (1 - a) + a * c
    return canvas


class _Composite(torch.autograd.Function):
    """out = C_N with C_i = C_{i-1} (1 - a_i) + a_i c_i. With K_i = prod_{j > i} (1 - a_j) (what
    later strokes leave of stroke i) and g = dL/dout:
        dL/dc_i = sum_px g K_i a_i,   dL/da_i = K_i sum_rgb g (c_i - C_{i-1}),   dL/dC_0 = g K_0 (1 - a_0).
    Batch dimensions are flattened to one; the sums are batched matrix products."""

    @staticmethod
    def forward(ctx, canvas: torch.Tensor, alpha: torch.Tensor, color: torch.Tensor) -> torch.Tensor:
        n, h, w = alpha.shape[-3:]
        states = canvas.new_empty(*alpha.shape[:-3], n + 1, 3, h, w)  # C_0 .. C_N
        out = _lay(canvas, alpha, color, states).clone()
        before = states.view(-1, n + 1, 3, h, w)[:, :n]  # C_{i-1} for stroke i
        ctx.save_for_backward(alpha.reshape(-1, n, h, w), color.reshape(-1, n, 3), before)
        ctx.shapes = canvas.shape, alpha.shape, color.shape
        return out

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        a, c, before = ctx.saved_tensors
        canvas_shape, alpha_shape, color_shape = ctx.shapes
        b, n, h, w = a.shape
        g = g.reshape(b, 3, h, w)
        keep = uncovered(a, 1)  # [B, N + 1, H, W]
        shown = keep[:, 1:]
        work = shown * a  # [B, N, H, W], reused below: big maps are written in place, not allocated
        d_color = torch.bmm(work.view(b, n, h * w), g.view(b, 3, h * w).transpose(1, 2))  # [B, N, 3]
        g_before = torch.mul(before[:, :, 0], g[:, None, 0], out=work)  # sum_rgb g C_{i-1}
        g_before.addcmul_(before[:, :, 1], g[:, None, 1]).addcmul_(before[:, :, 2], g[:, None, 2])
        d_alpha = torch.bmm(c, g.view(b, 3, h * w)).view(b, n, h, w)  # sum_rgb g c_i ...
        d_alpha.sub_(g_before).mul_(shown)  # ... - g_before, times what shows
        d_canvas = g * keep[:, :1]
        if d_canvas.shape != canvas_shape:  # the canvas was broadcast over the batch
            d_canvas = d_canvas.view(*alpha_shape[:-3], 3, h, w).sum_to_size(canvas_shape)
        return d_canvas.reshape(canvas_shape), d_alpha.view(alpha_shape), d_color.view(color_shape)


def best_colours(
    canvas: torch.Tensor, alpha: torch.Tensor, target: torch.Tensor, prior: torch.Tensor, ridge: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Strokes laid in order, each in the colour that brings the canvas closest to the target
    where it lands, given the canvas before it (what geometrize does for each shape):

        c_i = sum_px a_i (T - C_{i-1} (1 - a_i)) / sum_px a_i^2      (per channel, clamped to [0, 1])

    ridge-regularised towards `prior` (the colours proposed), so a stroke that barely shows keeps
    its own. canvas, target [B, 3, H, W]; alpha [B, N, H, W]; prior [B, N, 3] -> (canvas, colours).
    Differentiable (autograd through the N steps)."""
    colours = []
    for a, p in zip(alpha.unsqueeze(2).unbind(1), prior.unbind(1)):  # a [B, 1, H, W], p [B, 3]
        num = (a * (target - canvas * (1 - a))).sum((2, 3)) + ridge * p
        c = (num / ((a * a).sum((2, 3)) + ridge)).clamp(0, 1)
        canvas = torch.lerp(canvas, c[..., None, None], a)
        colours.append(c)
    return canvas, torch.stack(colours, 1)


def uncovered(alpha: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """What later strokes leave uncovered: keep[i] = prod_{j >= i} (1 - alpha_j) along `dim`
    (strokes in order), keep[N] = 1; shape [..., N + 1, ...]. keep[i + 1] is the share of stroke
    i that shows in the finished canvas, keep[0] the share of the background."""
    a = alpha.movedim(dim, 0)
    keep = torch.empty(len(a) + 1, *a.shape[1:], dtype=a.dtype, device=a.device)
    keep[-1] = 1
    # 1 - a at once for small rows; for big ones a row at a time into one buffer, which saves
    # allocating a copy of alpha ([104, 20, 80, 80]: 55 -> 32 ms; docs/engine.md, speed-ups)
    big = len(a) > 0 and a[0].numel() >= 32768
    clear, row = (None, torch.empty_like(a[0])) if big else (1 - a, None)
    for i in range(len(a) - 1, -1, -1):  # row products: 5x faster than cumprod over flipped copies
        c = torch.mul(a[i], -1, out=row).add_(1) if big else clear[i]
        torch.mul(keep[i + 1], c, out=keep[i])
    return keep.movedim(0, dim)


def blank(background: tuple[float, float, float] | torch.Tensor, height: int, width: int, batch: tuple[int, ...] = ()) -> torch.Tensor:
    """A canvas [*batch, 3, H, W] filled with one colour."""
    bg = torch.as_tensor(background, dtype=torch.float32).view(*([1] * len(batch)), 3, 1, 1)
    return bg.expand(*batch, 3, height, width).clone()
