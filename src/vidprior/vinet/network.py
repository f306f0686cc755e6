"""VINet (Kim et al., CVPR 2019): feed-forward video inpainting by warping neighbour features.

One step fills the hole of a *reference* frame t from five source streams: the frames t-6, t-3,
t+3, t+6 and the network's own previous output (recurrent feedback). Per stream, a feature-flow
sub-network (cost volume + convolutions, PWC style) aligns the source features to the reference
at 1/8, 1/4 and 1/2 resolution; a 3-D gated convolution over the five warped streams aggregates
them, and a learned composition mask decides where the aggregate replaces the reference's
features. A ConvLSTM at 1/8 carries memory across steps; the decoder's raw output is finally
blended with the previous output warped by a full-resolution flow.

One addition of ours (a network trained for an hour on a CPU cannot learn to copy pixels through
features alone): the decoder predicts a *residual* over a pixel-level candidate, the five sources'
pixels warped with the upsampled 1/2-scale flows and mixed by learned per-pixel weights among the
sources that see the pixel, and a smooth pull-push fill where none does. With zero-initialised last
layers the untrained network starts as a flow-guided fill with learned flows, and the paper's
feature path learns the corrections.

All widths scale with ``VinetConfig.width`` (32 = the paper's network, ~14 M weights); images
are (N, 3, H, W) in [-1, 1] with H and W multiples of ``MULTIPLE`` (`vidprior.nn.padding.pad_to`
pads), holes (N, 1, H, W) in {0, 1} with 1 = unknown. Every stream is encoded from 5 channels:
RGB with holes zeroed, a constant one and the hole mask.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..flow import warp
from ..nn.convlstm import ConvLSTMCell

SOURCES = 5  # four neighbours and the previous output
MULTIPLE = 8  # H and W of the input: the encoders downsample three times


@dataclass(frozen=True)
class VinetConfig:
    """width: channels of the first encoder stage (the paper: 32); displacement: cost-volume reach in
    pixels of the 1/8 feature map (the paper: 4, i.e. 81 correlation channels). The finer scales only
    refine an upsampled flow and look ±2 (1/4) and ±1 (1/2, full) pixels around it, which keeps the
    cost volumes cheap on a CPU."""

    width: int = 12
    displacement: int = 4

    @property
    def reaches(self) -> tuple[int, int, int, int]:
        """Cost-volume reach at 1/8, 1/4, 1/2 and full resolution."""
        return self.displacement, max(1, self.displacement // 2), 1, 1

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _leaky(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.1)


class GatedConv(nn.Module):
    """Gated convolution: ``act(features) · sigmoid(gate)`` from one convolution to 2C channels."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1, leaky: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.leaky = leaky
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)
        act = F.leaky_relu(features, 0.2) if self.leaky else F.relu(features)
        return act * torch.sigmoid(gate)


class GatedUp(GatedConv):
    """×2 bilinear upsampling, then a (leaky) gated convolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(cin, cout, leaky=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))


class Encoder(nn.Module):
    """5 → features at full, 1/2, 1/4 and 1/8 resolution with c, 2c, 3c, 4c channels."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.stages = nn.ModuleList([
            GatedConv(5, c),
            nn.Sequential(GatedConv(c, 2 * c, 2), GatedConv(2 * c, 2 * c)),
            nn.Sequential(GatedConv(2 * c, 3 * c, 2), GatedConv(3 * c, 3 * c)),
            nn.Sequential(GatedConv(3 * c, 4 * c, 2), GatedConv(4 * c, 4 * c), GatedConv(4 * c, 4 * c)),
        ])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


def cost_volume(reference: torch.Tensor, source: torch.Tensor, reach: int) -> torch.Tensor:
    """Correlation of (N, C, H, W) features at every shift within ±reach: (N, (2·reach+1)², H, W).

    Channel k = (dy + reach)·(2·reach + 1) + (dx + reach) holds mean_c ref[y, x] · src[y + dy, x + dx]
    (zero outside the image).
    """
    height, width = reference.shape[-2:]
    padded = F.pad(source, (reach, reach, reach, reach))
    shifts = [(reference * padded[..., dy: dy + height, dx: dx + width]).mean(1)
              for dy in range(2 * reach + 1) for dx in range(2 * reach + 1)]
    return torch.stack(shifts, dim=1)


class FlowEstimator(nn.Module):
    """[reference features, cost volume, prior flow] → residual flow (N, 2, H, W) in pixels of its scale.

    A stack of convolutions and a dilated context network (1, 2, 4, 8, 1) that adds a correction.
    """

    def __init__(self, features: int, reach: int, c: int) -> None:
        super().__init__()
        self.reach = reach
        cin = features + (2 * reach + 1) ** 2 + 2
        widths = [cin, 4 * c, 3 * c, 2 * c, c]
        self.body = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(widths, widths[1:]))
        self.head = nn.Conv2d(c, 2, 3, padding=1)
        dilations, context = [1, 2, 4, 8, 1], [c + 2, 2 * c, 2 * c, 2 * c, c, c]
        self.context = nn.ModuleList(nn.Conv2d(a, b, 3, padding=d, dilation=d)
                                     for a, b, d in zip(context, context[1:], dilations))
        self.context_head = nn.Conv2d(c, 2, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        for head in (self.head, self.context_head):  # start at "no correction"
            nn.init.zeros_(head.weight)

    def forward(self, reference: torch.Tensor, source: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        """reference, source: (N, C, H, W) features; prior: (N, 2, H, W) flow ref → source. Returns the refined flow."""
        aligned = warp(source, prior) if prior.abs().amax() > 0 else source
        x = torch.cat([reference, _leaky(cost_volume(reference, aligned, self.reach)), prior], 1)
        for conv in self.body:
            x = _leaky(conv(x))
        flow = prior + self.head(x)
        y = torch.cat([x, flow], 1)
        for conv in self.context:
            y = _leaky(conv(y))
        return flow + self.context_head(y)


class CompositionMask(nn.Module):
    """|reference − aggregate| → where (0..1) the aggregate replaces the reference."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(channels // 2, 8)
        self.net = nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.LeakyReLU(0.1),
                                 nn.Conv2d(hidden, hidden, 3, padding=1), nn.LeakyReLU(0.1),
                                 nn.Conv2d(hidden, 1, 3, padding=1), nn.Sigmoid())

    def forward(self, reference: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        return self.net((reference - other).abs())


class TemporalAggregator(nn.Module):
    """Five warped streams (N, C, 5, H, W) → one feature map, by a 3-D gated conv with kernel (5, 3, 3);
    then the composite (1 − m)·reference + m·aggregate."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(channels, 2 * channels, (SOURCES, 3, 3), padding=(0, 1, 1), bias=False)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")
        self.mask = CompositionMask(channels)

    def forward(self, reference: torch.Tensor, warped: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(warped)[:, :, 0].chunk(2, dim=1)
        aggregate = F.relu(features) * torch.sigmoid(gate)
        m = self.mask(reference, aggregate)
        return (1 - m) * reference + m * aggregate


@dataclass
class Sources:
    """Source frames ready for a step: ``features`` per scale (N, S, C, h, w) from the source encoder,
    ``images`` (N, S, 3, H, W) with holes zeroed and ``holes`` (N, S, 1, H, W)."""

    features: list[torch.Tensor]
    images: torch.Tensor
    holes: torch.Tensor

    def select(self, index: list[int]) -> Sources:
        """The sources at positions ``index`` (along S)."""
        return Sources([f[:, index] for f in self.features], self.images[:, index], self.holes[:, index])

    @staticmethod
    def stack(parts: list[Sources]) -> Sources:
        """Concatenate single sources (S = 1 each) along S."""
        return Sources([torch.cat([p.features[k] for p in parts], 1) for k in range(4)],
                       torch.cat([p.images for p in parts], 1), torch.cat([p.holes for p in parts], 1))


@dataclass
class StepOutput:
    """What one VINet step returns.

    image: (N, 3, H, W) the output in [-1, 1] (every pixel; callers paste the known ones back);
    flows: {scale: (N, 5, 2, H/s, W/s)} flows from the reference to each source, in pixels of that scale
    (s = 8, 4, 2; ``warp(source, flow)`` aligns a source with the reference, as in `vidprior.flow`);
    feedback_flow: (N, 2, H, W) the same at full resolution for the previous output;
    state: the ConvLSTM state to pass to the next step.
    """

    image: torch.Tensor
    flows: dict[int, torch.Tensor]
    feedback_flow: torch.Tensor
    state: tuple[torch.Tensor, torch.Tensor]


class Vinet(nn.Module):
    """The VINet step: (reference, 4 neighbours, previous output) → inpainted reference frame."""

    def __init__(self, config: VinetConfig = VinetConfig()) -> None:
        super().__init__()
        self.config = config
        c, (r8, r4, r2, r1) = config.width, config.reaches
        self.reference_encoder = Encoder(c)
        self.source_encoder = Encoder(c)
        self.flow8 = FlowEstimator(4 * c, r8, c)
        self.flow4 = FlowEstimator(3 * c, r4, max(c * 3 // 4, 4))
        self.flow2 = FlowEstimator(2 * c, r2, max(c // 2, 4))
        self.flow1 = FlowEstimator(c, r1, max(c // 4, 4))
        self.aggregate = nn.ModuleDict({str(s): TemporalAggregator(k * c) for s, k in ((8, 4), (4, 3), (2, 2))})
        self.bottleneck = nn.Sequential(GatedConv(8 * c, 4 * c), *[GatedConv(4 * c, 4 * c, dilation=d)
                                                                   for d in (2, 4, 8)])
        self.memory = ConvLSTMCell(4 * c, 4 * c)
        self.decode8 = nn.Sequential(GatedConv(4 * c, 4 * c), GatedConv(4 * c, 4 * c), GatedUp(4 * c, 3 * c))
        self.decode4 = nn.Sequential(GatedConv(6 * c, 3 * c), *[GatedConv(3 * c, 3 * c, dilation=d) for d in (2, 4)],
                                     GatedUp(3 * c, 2 * c))
        self.decode2 = nn.Sequential(GatedConv(4 * c, 2 * c), GatedConv(2 * c, 2 * c), GatedUp(2 * c, c))
        self.decode1 = nn.Sequential(GatedConv(c, max(c // 2, 4), leaky=True),
                                     nn.Conv2d(max(c // 2, 4), 3, 3, padding=1, bias=False))
        self.blend = CompositionMask(c)
        self.pick = nn.Sequential(nn.Conv2d(4 * SOURCES, 16, 3, padding=1), nn.LeakyReLU(0.1),
                                  nn.Conv2d(16, SOURCES, 3, padding=1))
        for last in (self.pick[-1], self.decode1[-1]):  # start as the pixel-level candidate, unchanged
            nn.init.zeros_(last.weight)
            if last.bias is not None:
                nn.init.zeros_(last.bias)

    # -------------------------------------------------------------------------------- pieces

    @staticmethod
    def stream(image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] and its hole (N, 1, H, W) → the 5-channel encoder input."""
        return torch.cat([image * (1 - hole), torch.ones_like(hole), hole], 1)

    def encode_sources(self, images: torch.Tensor, holes: torch.Tensor) -> Sources:
        """Frames (N, S, 3, H, W) in [-1, 1] and their holes (N, S, 1, H, W) → `Sources`.

        A frame is encoded once and reused by every step it serves (see `vidprior.vinet.inference.SourceCache`).
        """
        n, s = images.shape[:2]
        feats = self.source_encoder(self.stream(images.flatten(0, 1), holes.flatten(0, 1)))
        return Sources([f.unflatten(0, (n, s)) for f in feats], images * (1 - holes), holes)

    def candidate(self, reference: torch.Tensor, hole: torch.Tensor, images: torch.Tensor, holes: torch.Tensor,
                  flows: torch.Tensor) -> torch.Tensor:
        """The pixel-level fill: images (N, 5, 3, H, W) with holes (N, 5, 1, H, W), warped by ``flows``
        (N, 5, 2, H, W) and mixed by learned weights among the sources that see each pixel; the
        reference's own pixels where it has them; `pull_push_fill` where nothing does. (N, 3, H, W)."""
        n = reference.shape[0]
        warped = warp(images.flatten(0, 1), flows.flatten(0, 1)).unflatten(0, (n, SOURCES))
        seen = 1 - warp(holes.flatten(0, 1), flows.flatten(0, 1)).unflatten(0, (n, SOURCES)).clamp(0, 1)
        seen = seen * (seen > 0.99)  # a sample touching a hole is not trusted
        logits = self.pick(torch.cat([warped, seen], 2).flatten(1, 2))[:, :, None]  # (N, 5, 1, H, W)
        weights = torch.softmax(logits.masked_fill(seen == 0, -1e4), dim=1) * seen
        mixed = (weights * warped).sum(1) / weights.sum(1).clamp_min(1e-6)
        known = 1 - hole
        mixed = torch.where(hole > 0, mixed, reference)
        valid = torch.maximum(known, seen.amax(1))
        return torch.where(valid > 0, mixed, pull_push_fill(mixed, valid))

    # -------------------------------------------------------------------------------- the step

    def forward(self, reference: torch.Tensor, hole: torch.Tensor, neighbours: Sources,
                previous: torch.Tensor | None = None,
                state: tuple[torch.Tensor, torch.Tensor] | None = None) -> StepOutput:
        """reference (N, 3, H, W), hole (N, 1, H, W); neighbours: the four neighbour frames (`encode_sources`);
        previous (N, 3, H, W): the last output, or None at the start (the feedback stream then sees the
        reference itself, and there is no blend)."""
        reference = reference * (1 - hole)
        ref = self.reference_encoder(self.stream(reference, hole))
        fed_image, fed_hole = (reference, hole) if previous is None else (previous, torch.zeros_like(hole))
        fed = self.source_encoder(self.stream(fed_image, fed_hole))
        sources = [torch.cat([nb, fb[:, None]], 1) for nb, fb in zip(neighbours.features, fed)]  # (N, 5, C, h, w)
        n = reference.shape[0]
        flows: dict[int, torch.Tensor] = {}
        composites: dict[int, torch.Tensor] = {}
        prior = None
        for level, scale, estimator in ((3, 8, self.flow8), (2, 4, self.flow4), (1, 2, self.flow2)):
            src = sources[level]  # (N, 5, C, h, w)
            reference_features = ref[level].repeat_interleave(SOURCES, 0)
            if prior is None:
                prior = reference_features.new_zeros(n * SOURCES, 2, *src.shape[-2:])
            else:
                prior = 2 * F.interpolate(prior, size=src.shape[-2:], mode="bilinear", align_corners=False)
            flat = src.flatten(0, 1)
            prior = estimator(reference_features, flat, prior)
            flows[scale] = prior.unflatten(0, (n, SOURCES))
            warped = warp(flat, prior).unflatten(0, (n, SOURCES)).transpose(1, 2)  # (N, C, 5, h, w)
            composites[scale] = self.aggregate[str(scale)](ref[level], warped)
        x = self.bottleneck(torch.cat([ref[3], composites[8]], 1))
        state = self.memory(x, state)
        x = self.decode8(state[0])
        x = self.decode4(torch.cat([x, composites[4]], 1))
        x = self.decode2(torch.cat([x, composites[2]], 1))
        full = 2 * F.interpolate(flows[2].flatten(0, 1), size=reference.shape[-2:], mode="bilinear",
                                 align_corners=False).unflatten(0, (n, SOURCES))
        feedback_flow = self.flow1(ref[0], fed[0], full[:, -1])
        full = torch.cat([full[:, :-1], feedback_flow[:, None]], 1)
        images = torch.cat([neighbours.images, fed_image[:, None]], 1)
        holes = torch.cat([neighbours.holes, fed_hole[:, None]], 1)
        raw = self.candidate(reference, hole, images, holes, full) + self.decode1(x)
        # the previous output, aligned at full resolution and blended in where it agrees with the reference
        image = raw
        if previous is not None:
            m = self.blend(ref[0], warp(fed[0], feedback_flow))
            image = (1 - m) * raw + m * warp(previous, feedback_flow)
        return StepOutput(image, flows, feedback_flow, state)


def pull_push_fill(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Pull-push fill: (N, C, H, W) values where ``valid`` (N, 1, H, W) is 1, a smooth interpolation of them
    elsewhere (each missing pixel takes the valid mean of the finest pyramid level that has any).
    On the device and differentiable; `vidprior.flow.fill_smooth` fills a numpy flow field instead."""
    sums, weights = [x * valid], [valid]
    while min(sums[-1].shape[-2:]) > 1:
        sums.append(F.avg_pool2d(sums[-1], 2, ceil_mode=True))
        weights.append(F.avg_pool2d(weights[-1], 2, ceil_mode=True))
    filled = sums[-1] / weights[-1].clamp_min(1e-6)
    for total, weight in zip(reversed(sums[:-1]), reversed(weights[:-1])):
        coarse = F.interpolate(filled, size=total.shape[-2:], mode="bilinear", align_corners=False)
        filled = torch.where(weight > 1e-6, total / weight.clamp_min(1e-6), coarse)
    return filled

