"""Our architecture card as a PyTorch module: one definition for training, benchmarking and
parity with `add`.

Written from the card's meaning (see src/network/*.rs), not copied from the reference code.
Parameter names are ours, which are the reference `state_dict`'s, so a model saved by `add`
loads here and a model trained here opens in `add` (`weights.py`).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

OPS = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
       "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"]
NUM_CELLS = 12


def scale_dim(d, s):
    """The reference's scale_dimension: (d - 1) * s + 1, truncated."""
    return int((d - 1) * s + 1)


def resize(x, h, w):
    if x.shape[2] == h and x.shape[3] == w:
        return x
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


def conv(cin, cout, k, stride=1, pad=None, dil=1, groups=1, bias=False):
    return nn.Conv2d(cin, cout, k, stride, k // 2 if pad is None else pad, dil, groups, bias=bias)


def relu_conv_bn(cin, cout):
    """ReLU, 1x1 conv, BN: tensors `1.*` and `2.*`."""
    return nn.Sequential(nn.ReLU(), conv(cin, cout, 1), nn.BatchNorm2d(cout))


class ReluConvBn(nn.Module):
    """The same under `op.` (the reference's ReLUConvBN)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.op = relu_conv_bn(cin, cout)

    def forward(self, x):
        return self.op(x)


class FactorizedReduce(nn.Module):
    """Two strided 1x1 convs, the second on the input shifted by stride/2, concat, BN."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv_1 = conv(cin, cout // 2, 1, stride=stride, pad=0)
        self.conv_2 = conv(cin, cout // 2, 1, stride=stride, pad=0)
        self.bn = nn.BatchNorm2d(cout)
        self.shift = stride // 2

    def forward(self, x):
        x = F.relu(x)
        s = self.shift
        shifted = F.pad(x, (0, s, 0, s))[:, :, s:, s:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], 1))


class Op(nn.Module):
    def __init__(self, name, c):
        super().__init__()
        self.name = name
        if name.startswith("sep_conv"):
            k = 3 if name.endswith("3x3") else 5
            self.op = nn.Sequential(
                nn.ReLU(), conv(c, c, k, groups=c), conv(c, c, 1), nn.BatchNorm2d(c),
                nn.ReLU(), conv(c, c, k, groups=c), conv(c, c, 1), nn.BatchNorm2d(c))
        elif name.startswith("dil_conv"):
            k = 3 if name.endswith("3x3") else 5
            self.op = nn.Sequential(nn.ReLU(), conv(c, c, k, pad=k - 1, dil=2), nn.BatchNorm2d(c))

    def forward(self, x):
        if self.name == "none":
            return torch.zeros_like(x)
        if self.name == "skip_connect":
            return x
        if self.name == "max_pool_3x3":
            return F.max_pool2d(x, 3, 1, 1)
        if self.name == "avg_pool_3x3":
            return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        return self.op(x)


def branch_offset(block):
    return sum(b + 2 for b in range(block))


class Cell(nn.Module):
    def __init__(self, card, i, prev, prev_prev, dense_in, dense_out):
        super().__init__()
        level = card["path"][i]
        c = card["F"] << level
        prev_c, prev_level = prev
        d = prev_level - level
        self.up = d == 1
        self.preprocess = FactorizedReduce(prev_c, c, 2) if d == -1 else ReluConvBn(prev_c, c)
        self.dense_in = dense_in
        if dense_in:
            self.pre_preprocess = nn.ModuleList(ReluConvBn(cj, c) for cj in prev_prev)
            self.pre_preprocess_1x1 = ReluConvBn(c * len(prev_prev), c)
        else:
            self.pre_preprocess = ReluConvBn(prev_prev[0], c)
        self._ops = nn.ModuleList(Op(OPS[row[1]], c) for row in card["genotype"])
        self.branches = sorted(row[0] for row in card["genotype"])
        self.blocks = card["B"]
        self.dense_process = ReluConvBn(c * card["B"], c) if dense_out else None

    def forward(self, h0, prev):
        if self.up:
            prev = resize(prev, scale_dim(prev.shape[2], 2.0), scale_dim(prev.shape[3], 2.0))
        s1 = self.preprocess(prev)
        h, w = s1.shape[2], s1.shape[3]
        if self.dense_in:
            parts = [p(resize(x, h, w)) for p, x in zip(self.pre_preprocess, h0)]
            s0 = self.pre_preprocess_1x1(torch.cat(parts, 1))
        else:
            s0 = self.pre_preprocess(resize(h0, h, w))
        states = [s0, s1]
        j = 0
        for block in range(self.blocks):
            offset = branch_offset(block)
            total = None
            while j < len(self._ops) and self.branches[j] < offset + len(states):
                y = self._ops[j](states[self.branches[j] - offset])
                total = y if total is None else total + y
                j += 1
            states.append(total)
        out = torch.cat(states[-self.blocks:], 1)
        return out, (self.dense_process(out) if self.dense_process is not None else None)


class Aspp(nn.Module):
    def __init__(self, cin, d, mult):
        super().__init__()
        self.aspp1, self.aspp1_bn = conv(cin, d, 1), nn.BatchNorm2d(d)
        rates = [int(r * mult) for r in (6.0, 12.0, 18.0)]
        self.aspp2, self.aspp2_bn = conv(cin, d, 3, pad=rates[0], dil=rates[0]), nn.BatchNorm2d(d)
        self.aspp3, self.aspp3_bn = conv(cin, d, 3, pad=rates[1], dil=rates[1]), nn.BatchNorm2d(d)
        self.aspp4, self.aspp4_bn = conv(cin, d, 3, pad=rates[2], dil=rates[2]), nn.BatchNorm2d(d)
        self.aspp5, self.aspp5_bn = conv(cin, d, 1), nn.BatchNorm2d(d)
        self.conv1, self.bn1 = conv(5 * d, d, 1), nn.BatchNorm2d(d)

    def forward(self, x):
        x = F.relu(x)
        parts = [F.relu(bn(c(x))) for c, bn in ((self.aspp1, self.aspp1_bn), (self.aspp2, self.aspp2_bn),
                                                (self.aspp3, self.aspp3_bn), (self.aspp4, self.aspp4_bn))]
        pooled = F.relu(self.aspp5_bn(self.aspp5(x.mean((2, 3), keepdim=True))))
        parts.append(pooled.expand(-1, -1, x.shape[2], x.shape[3]))
        return self.bn1(self.conv1(torch.cat(parts, 1)))


class Decoder(nn.Module):
    def __init__(self, width, low_width, classes):
        super().__init__()
        self._conv = nn.Sequential(
            nn.ReLU(), conv(width + low_width, width, 3), nn.BatchNorm2d(width), nn.ReLU(),
            conv(width, width, 3), nn.BatchNorm2d(width), nn.ReLU(), conv(width, classes, 1, bias=True))

    def forward(self, x, low, size):
        x = resize(x, low.shape[2], low.shape[3])
        return resize(self._conv(torch.cat([x, low], 1)), *size)


class Edm(nn.Module):
    def __init__(self, cin, s):
        super().__init__()
        self.conv = conv(cin, s.get("channels", 128), 3, stride=2)
        widths = [s.get("channels", 128)] + s.get("hidden", [64, 32]) + [1]
        layers = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.edm = nn.Sequential(*layers[:-1])

    def forward(self, f):
        return self.edm(F.relu(self.conv(F.relu(f))).mean((2, 3))).squeeze(-1)


class EdmMap(nn.Module):
    def __init__(self, cin, s):
        super().__init__()
        m = s.get("map_channels", 64)
        self.conv1, self.conv2 = conv(cin, m, 3, bias=True), conv(m, 1, 1, bias=True)

    def forward(self, f):
        return torch.sigmoid(self.conv2(F.relu(self.conv1(F.relu(f)))))


class AddNet(nn.Module):
    """Stem, 12 cells on the card's path, adapters, shared ASPP + decoder, EDMs."""

    def __init__(self, card):
        super().__init__()
        self.card = card
        F_, B, path = card["F"], card["B"], card["path"]
        cell_c = lambda lvl: B * (F_ << lvl)
        stem = card.get("stem", {})
        STEM = (stem.get("width", 64), stem.get("out", 128))  # the reference's widths by default
        self.stem0 = nn.Sequential(conv(3, STEM[0], 3, stride=2), nn.BatchNorm2d(STEM[0]))
        self.stem1 = nn.Sequential(conv(STEM[0], STEM[0], 3), nn.BatchNorm2d(STEM[0]))
        self.stem2 = nn.Sequential(nn.ReLU(), conv(STEM[0], STEM[1], 3, stride=2), nn.BatchNorm2d(STEM[1]))
        dense = card["kind"] == "add"
        self.dense = dense
        cells = []
        for i in range(NUM_CELLS):
            prev = (STEM[1], 0) if i == 0 else (cell_c(path[i - 1]), path[i - 1])
            dense_in = dense and i >= 3
            if dense_in:
                prev_prev = [F_ << lvl for lvl in path[:i - 1]]
            else:
                prev_prev = [STEM[0] if i == 0 else STEM[1] if i == 1 else cell_c(path[i - 2])]
            cells.append(Cell(card, i, prev, prev_prev, dense_in, dense and i < NUM_CELLS - 2))
        self.cells = nn.ModuleList(cells)
        head = card.get("head", {})
        width, low_width = head.get("width", 256), head.get("low_level_width", 48)
        self.head_level = path[-1]
        cin = cell_c(self.head_level)
        self.exit_cells = list(card["exits"]) + [NUM_CELLS - 1]
        adapters, conv_aspp = [], []
        for cell in self.exit_cells:
            d = path[cell] - self.head_level
            if d == 0:
                adapters.append(None)
                continue
            m = FactorizedReduce(cell_c(path[cell]), cin, 2 if d == -1 else 4) if d < 0 \
                else ReluConvBn(cell_c(path[cell]), cin)
            adapters.append(len(conv_aspp))
            conv_aspp.append(m)
        self.adapters = adapters
        self.conv_aspp = nn.ModuleList(conv_aspp)
        mult = {1: 2.0, 2: 1.0}.get(self.head_level, 0.5)
        self.aspp = Aspp(cin, width, mult)
        self.decoder = Decoder(width, low_width, len(card["classes"]))
        self.low_level_conv = relu_conv_bn(cell_c(path[card["low_level_cell"]]), low_width)
        edm = card.get("edm", {})
        kind = edm.get("kind", "none")
        early = [cell_c(path[c]) for c in card["exits"]]
        self.edm = nn.ModuleList(Edm(c, edm) for c in early) if kind in ("scalar", "both") else nn.ModuleList()
        self.edm_map = nn.ModuleList(EdmMap(c, edm) for c in early) if kind in ("map", "both") else nn.ModuleList()

    def head(self, exit, y, low, size):
        s = 0.5 ** (self.head_level + 2)
        ah, aw = scale_dim(size[0], s), scale_dim(size[1], s)
        if y.shape[2] < ah or y.shape[3] < aw:
            y = resize(y, ah, aw)
        if self.adapters[exit] is not None:
            y = self.conv_aspp[self.adapters[exit]](y)
        return self.decoder(self.aspp(y), low, size)

    def forward(self, x, answer_at=None):
        """Logits of every exit, or only of exit `answer_at` (running only the cells it needs)."""
        size = (x.shape[2], x.shape[3])
        a = F.relu(self.stem0(x))
        prev_prev = F.relu(self.stem1(a))
        prev = self.stem2(prev_prev)
        dense, low, outs = [], None, []
        last = NUM_CELLS - 1 if answer_at is None else self.exit_cells[answer_at]
        for i in range(last + 1):
            h0 = dense[:i - 1] if self.dense and i >= 3 else prev_prev
            out, d = self.cells[i](h0, prev)
            if d is not None:
                dense.append(d)
            if i == self.card["low_level_cell"]:
                low = self.low_level_conv(out)
            prev_prev, prev = prev, out
            if i in self.exit_cells:
                k = self.exit_cells.index(i)
                if answer_at is None or k == answer_at:
                    outs.append(self.head(k, out, low, size))
        return outs


def init_weights(net):
    """The reference's initialisation: Kaiming-normal convolutions, BatchNorm at (1, 0)."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net
