"""PyTorch reference of the protoecg network (spec section 3), used to produce golden
files for the C engine and as the benchmark counterpart. Never used at run time.

State-dict names follow the authors' code:
  feature_extractor.conv1.weight                  (W, 12, 7)
  feature_extractor.bn1.{weight,bias,running_mean,running_var,num_batches_tracked}
  feature_extractor.layerN.M.{conv1,bn1,conv2,bn2}.*      N = 1..4, M = 0, 1
  feature_extractor.layerN.0.downsample.{0,1}.*           N = 2, 3, 4 (1x1 conv + BN)
  add_on_layers.0.{weight,bias}  (D, 8W)   add_on_layers.2.{weight,bias}  (D, D)
  prototype_vectors (P, D)   prototype_class_identity (P, C)   classifier.weight (C, P)
  Baseline: feature_extractor.* + fc.{weight,bias} (C, 8W)

Width parameterization (the C engine takes the same two numbers as config):
  base_width W: stage widths W, 2W, 4W, 8W (default W = 64 -> 64/128/256/512; the stem
  conv is 12 -> W); add_on_dim D: add-on Linear 8W -> D, Linear D -> D, prototypes of
  length D (default 512). Everything else (kernels, strides, padding, BN) is fixed.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

# the rhythm labels in the model file's order (spec section 1)
CLASS_NAMES = ("1AVB IVCD 3AVB 2AVB SR AFIB STACH SARRH SBRAD PACE SVARR BIGU AFLT SVTAC PSVT "
               "TRIGU").split()
NUM_CLASSES = len(CLASS_NAMES)
NUM_LEADS = 12


class BasicBlock1d(nn.Module):
    """conv k3 (stride) -> BN -> ReLU -> conv k3 -> BN, + shortcut, ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(cout)
        self.conv2 = nn.Conv1d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(cout)
        self.relu = nn.ReLU()   # no state; a module so that hooks can see its inputs
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv1d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm1d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.downsample is None else self.downsample(x)
        return self.relu(out + sc)


class ResNet18_1d(nn.Module):
    """1D ResNet-18 backbone: (B, 12, L) -> pooled features h (B, 8W)."""

    def __init__(self, base_width=64):
        super().__init__()
        w = base_width
        self.out_dim = 8 * w
        self.conv1 = nn.Conv1d(NUM_LEADS, w, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm1d(w)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool1d(3, stride=2, padding=1)
        widths = [w, 2 * w, 4 * w, 8 * w]
        strides = [1, 2, 2, 2]
        cin = w
        for i, (cout, s) in enumerate(zip(widths, strides)):
            layer = nn.Sequential(BasicBlock1d(cin, cout, s), BasicBlock1d(cout, cout, 1))
            setattr(self, f"layer{i + 1}", layer)
            cin = cout

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))   # (B, W, 250) for L = 1000
        x = self.layer1(x)                                   # (B, W, 250)
        x = self.layer2(x)                                   # (B, 2W, 125)
        x = self.layer3(x)                                   # (B, 4W, 63)
        x = self.layer4(x)                                   # (B, 8W, 32)
        return x.mean(dim=2)                                 # (B, 8W) global average pool


class ProtoNet(nn.Module):
    """Rhythm branch of ProtoECGNet: backbone, add-on, cosine prototypes, last layer."""

    def __init__(self, base_width=64, add_on_dim=512, protos_per_class=5,
                 num_classes=NUM_CLASSES):
        super().__init__()
        C, K, D = num_classes, protos_per_class, add_on_dim
        P = C * K
        self.feature_extractor = ResNet18_1d(base_width)
        self.add_on_layers = nn.Sequential(
            nn.Linear(self.feature_extractor.out_dim, D), nn.ReLU(),
            nn.Linear(D, D), nn.Sigmoid())
        self.prototype_vectors = nn.Parameter(torch.randn(P, D))   # N(0, 1)
        ident = torch.zeros(P, C)
        for p in range(P):
            ident[p, p // K] = 1.0                                  # p = c*K + k -> class c
        self.register_buffer("prototype_class_identity", ident)
        self.classifier = nn.Linear(P, C, bias=False)
        with torch.no_grad():
            self.classifier.weight.copy_(1.5 * ident.t() - 0.5)     # 1 own class, -0.5 else

    def forward_all(self, x):
        """x (B, 12, L) -> dict with h (B, 8W), z (B, D), similarities (B, P), logits (B, C)."""
        h = self.feature_extractor(x)
        z = self.add_on_layers(h)
        zn = F.normalize(z, dim=1, eps=1e-12)
        pn = F.normalize(self.prototype_vectors, dim=1, eps=1e-12)
        s = zn @ pn.t()
        logits = self.classifier(s)
        return {"h": h, "z": z, "similarities": s, "logits": logits}

    def forward(self, x):
        o = self.forward_all(x)
        return o["logits"], o["similarities"], o["z"]


class ReluMargin:
    """Context manager recording the smallest |input| of any ReLU in the forwards run
    inside it: how far the batch is from a ReLU kink. Below ~1e-6 a float32 engine may
    put a unit on the other side of the kink than a float64 reference, which changes
    the gradients of everything upstream of that unit."""

    def __init__(self, model):
        self.model = model
        self.value = float("inf")
        self.hooks = []

    def _hook(self, mod, inp, out):
        self.value = min(self.value, float(inp[0].detach().abs().min()))

    def __enter__(self):
        self.hooks = [m.register_forward_hook(self._hook)
                      for m in self.model.modules() if isinstance(m, nn.ReLU)]
        return self

    def __exit__(self, *exc):
        for h in self.hooks:
            h.remove()
        return False


class Baseline(nn.Module):
    """Plain baseline: the same backbone with a Linear 8W -> C head."""

    def __init__(self, base_width=64, num_classes=NUM_CLASSES):
        super().__init__()
        self.feature_extractor = ResNet18_1d(base_width)
        self.fc = nn.Linear(self.feature_extractor.out_dim, num_classes)

    def forward_all(self, x):
        h = self.feature_extractor(x)
        return {"h": h, "logits": self.fc(h)}

    def forward(self, x):
        return self.fc(self.feature_extractor(x))
