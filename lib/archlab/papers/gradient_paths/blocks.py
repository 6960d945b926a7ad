"""Stage bodies of the gradient-path family (paper 1, docs/papers/gradient_paths.md).

Every body maps (N, C, H, W) -> (N, C, H, W) at a fixed width C and exposes ``self.blocks``: the
repeated units whose outputs share one shape. The macro net (``models.py``) stacks them and the
dynamic analysis hooks ``blocks`` to compare gradients between block outputs, so no body needs
analysis-specific code.

Design choices that matter for the static path analysis (``paths.py``):

- Stop-gradient is ``Tensor.detach`` (fx records it as a node, the analysis cuts that edge).
- PRN's masked identity is written as channel slicing plus ``torch.cat`` rather than a multiply by a
  0/1 mask buffer: the slice makes the two channel groups visible in the traced graph, so the
  analysis can count the paper's Fig. 7 combinations from the graph alone, with ResNet's parameters.
- CSP splits with one 1x1 conv and ``chunk`` (timm ``CrossStage`` style); the note records the split
  styles are path-equivalent and differ only in parameters.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

SHORTCUTS = ("identity", "none", "sg_block", "sg_identity", "prn")
FUSIONS = ("fusion", "first", "last", "none")


class CBA(nn.Sequential):
    """Conv-BN-SiLU, yolov7's ``Conv``: one activation for every family so only the wiring differs."""

    def __init__(self, k: int, ci: int, co: int, s: int = 1, act: bool = True):
        super().__init__(OrderedDict(
            conv=nn.Conv2d(ci, co, k, s, k // 2, bias=False),
            bn=nn.BatchNorm2d(co),
            act=nn.SiLU() if act else nn.Identity(),
        ))


class BasicBlock(nn.Module):
    """y = act(F(x) + shortcut(x)) with F = BN(conv3(CBA(x))); ``shortcut`` picks the gradient wiring.

    identity: ResNet. none: PlainNet (same convs, no shortcut). sg_block: y = F(sg(x)) + x and
    sg_identity: y = F(x) + sg(x) (paper Fig. 9a/b). prn: the identity adds only to the first
    floor(rho*C) channels (PRN Eq. 1; rho=0 is Plain, rho=1 is ResNet).
    """

    def __init__(self, c: int, shortcut: str = "identity", rho: float = 0.5):
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut={shortcut!r}; valid: {SHORTCUTS}")
        self.shortcut, self.split = shortcut, int(rho * c)
        self.cv1 = CBA(3, c, c)
        self.cv2 = CBA(3, c, c, act=False)
        self.act = nn.SiLU()

    def forward(self, x):
        f = self.cv2(self.cv1(x.detach() if self.shortcut == "sg_block" else x))
        if self.shortcut == "none":
            y = f
        elif self.shortcut == "sg_identity":
            y = f + x.detach()
        elif self.shortcut == "prn":
            c = self.split
            y = torch.cat([f[:, :c] + x[:, :c], f[:, c:]], 1)
        else:  # identity, sg_block
            y = f + x
        return self.act(y)


class ResStage(nn.Module):
    """n BasicBlocks at width C (Plain, ResNet, its stop-gradient variants, PRN)."""

    def __init__(self, c: int, n: int, shortcut: str = "identity", rho: float = 0.5):
        super().__init__()
        self.blocks = nn.ModuleList(BasicBlock(c, shortcut, rho) for _ in range(n))

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


class CSPStage(nn.Module):
    """Cross-stage partial stage, 50/50 split: 1x1 conv, chunk into x_a (cross-stage) and x_b.

    fusion: T(cat[x_a, T_b(B(x_b))]); first: T(cat[x_a, B(x_b)]); last: cat[x_a, T_b(B(x_b))];
    none: cat[x_a, B(x_b)]. B is n ResNet BasicBlocks at C/2.
    """

    def __init__(self, c: int, n: int, fusion: str = "fusion"):
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"fusion={fusion!r}; valid: {FUSIONS}")
        if c % 2:
            raise ValueError(f"CSP needs an even width for its 50/50 split, got C={c}")
        h = c // 2
        self.split = CBA(1, c, c)
        self.blocks = nn.ModuleList(BasicBlock(h) for _ in range(n))
        self.trans_b = CBA(1, h, h) if fusion in ("fusion", "last") else nn.Identity()
        self.trans = CBA(1, c, c) if fusion in ("fusion", "first") else nn.Identity()

    def forward(self, x):
        xa, xb = self.split(x).chunk(2, 1)
        for b in self.blocks:
            xb = b(xb)
        return self.trans(torch.cat([xa, self.trans_b(xb)], 1))


class OSA(nn.Module):
    """VoVNet-V1 one-shot aggregation: three 3x3 convs, then a 1x1 transition over cat[x, y1, y2, y3]."""

    def __init__(self, c: int, m: int):
        super().__init__()
        self.convs = nn.ModuleList([CBA(3, c, m), CBA(3, m, m), CBA(3, m, m)])
        self.trans = CBA(1, c + 3 * m, c)

    def forward(self, x):
        ys = [x]
        for cv in self.convs:
            ys.append(cv(ys[-1]))
        return self.trans(torch.cat(ys, 1))


class OSAStage(nn.Module):
    """k OSA modules, each with its own transition: every module adds 1 to all earlier shortest paths."""

    def __init__(self, c: int, k: int, m: int):
        super().__init__()
        self.blocks = nn.ModuleList(OSA(c, m) for _ in range(k))

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


class TapStage(nn.Module):
    """Shared skeleton of the "stack in computational block" bodies (ELAN, VoVNet re-planned, CSP-ELAN).

    ``entry(x)`` returns the tensors that go straight to the transition (cross-stage branches) and the
    input of the chain; each block of the chain adds one tap; one 1x1 transition fuses them all, so
    stacking blocks lengthens only the longest gradient path.
    """

    def __init__(self, blocks, trans: nn.Module):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.trans = trans

    def entry(self, x):
        raise NotImplementedError

    def forward(self, x):
        outs, t = self.entry(x)
        outs = list(outs)
        for b in self.blocks:
            t = b(t)
            outs.append(t)
        return self.trans(torch.cat(outs, 1))


class ELANStage(TapStage):
    """ELAN (paper Fig. 6c, yolov7): a = CBA1(x), b = CBA1(x), k blocks of ``convs`` CBA3 on b, one tap each."""

    def __init__(self, c: int, k: int, h: int, convs: int = 2):
        blocks = [nn.Sequential(*(CBA(3, h, h) for _ in range(convs))) for _ in range(k)]
        super().__init__(blocks, CBA(1, (2 + k) * h, c))
        self.cv_a, self.cv_b = CBA(1, c, h), CBA(1, c, h)

    def entry(self, x):
        b = self.cv_b(x)
        return [self.cv_a(x), b], b


class VoVELANStage(TapStage):
    """VoVNet re-planned the ELAN way (Table 4): the same 3k chain of 3x3 convs, only the last transition.

    The transition sees the stage input plus one tap per former OSA module (its last conv).
    """

    def __init__(self, c: int, k: int, m: int):
        blocks = [nn.Sequential(CBA(3, c if i == 0 else m, m), CBA(3, m, m), CBA(3, m, m)) for i in range(k)]
        super().__init__(blocks, CBA(1, c + k * m, c))

    def entry(self, x):
        return [x], x


class CSPELANStage(TapStage):
    """CSP-ELAN (GELAN, yolov9 simplified): CBA1 to 2h, chunk (a, b); k units of [fusion-first CSP, CBA3]."""

    def __init__(self, c: int, k: int, h: int, n: int = 1):
        blocks = [nn.Sequential(CSPStage(h, n, "first"), CBA(3, h, h)) for _ in range(k)]
        super().__init__(blocks, CBA(1, (2 + k) * h, c))
        self.cv_in = CBA(1, c, 2 * h)

    def entry(self, x):
        a, b = self.cv_in(x).chunk(2, 1)
        return [a, b], b
