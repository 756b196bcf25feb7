"""The parameter counts the authors' own code gives, for the two hub architectures that miss their
papers' figures (``enas``, ``autoformer-tiny``), next to ours: the evidence their ``params_gap``
quotes. Counted from the variables' shapes, as the authors' code builds them; nothing is trained.

* ENAS (melodyguan/enas, ``src/cifar10/micro_child.py``, fixed-arc network of
  ``scripts/cifar10_micro_final.sh``: ``num_layers=15``, ``out_filters=36``, 5 nodes). Per cell:
  ``_maybe_calibrate_size`` (a factorized reduction or a ReLU-1x1 conv-BN on the
  previous-previous input when its shape differs, a 1x1 conv-BN on the previous one when its
  channels do), the ``layer_base`` ReLU-1x1 conv-BN on the previous input, the operations
  (separable convs stacked twice; pooling and identity; identity with stride 2 a factorized
  reduction), and ``_fixed_combine`` (unused states concatenated, larger ones reduced). Its own
  count leaves out the aux head (``"aux_head" not in var.name``); it is reported separately.
  ``layer_base=False`` is the NDS network, so that count must equal ours but for our
  classifier's bias (ENAS's has none): the script checks it.
* AutoFormer (microsoft/Cream, ``Vision_TransformerSuper.get_sampled_params_numel``): the sum of
  ``calc_sampled_param_num`` over the patch embedding, LayerNorms, qkv/projection/MLP layers,
  relative-position tables and classifier, plus ``embed_dim * (2 + patches)``.

Usage: python benchmarks/hub_paper_counts.py
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retiarii.hub.pytorch import load_searched_model, searched_architecture

# ENAS's op codes (its README): 0 sep 3x3, 1 sep 5x5, 2 avg pool, 3 max pool, 4 identity
_ENAS_OPS = {"sep_conv_3x3": 0, "sep_conv_5x5": 1, "avg_pool_3x3": 2, "max_pool_3x3": 3,
             "skip_connect": 4}  # fmt: skip
#: scripts/cifar10_micro_final.sh: normal cell, then reduction cell (index, op, index, op per node)
ENAS_FINAL_ARC = (
    "0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1",
    "1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1",
)


def enas_arc_of_sample(sample: Mapping[str, Any], cell: str) -> list[int]:
    """ENAS's arc (``index, op`` per operation) of one cell of an NDS sample."""
    arc: list[int] = []
    for node in range(2, 7):
        for j in range(2):
            source = sample[f"{cell}/input_{node}_{j}"]
            index = source[0] if isinstance(source, list) else int(source)
            arc += [index, _ENAS_OPS[sample[f"{cell}/op_{node}_{j}"]]]
    return arc


def _bn(c: int) -> int:
    return 2 * c  # offset and scale


def enas_micro_params(
    normal: list[int], reduce: list[int], num_layers: int = 15, out_filters: int = 36,
    layer_base: bool = True,
) -> tuple[int, int]:  # fmt: skip
    """(network, aux head) trainable parameters of micro_child.py's fixed-arc CIFAR-10 model."""
    total = 3 * 3 * 3 * 3 * out_filters + _bn(3 * out_filters)  # stem
    layers = [(32, 3 * out_filters), (32, 3 * out_filters)]  # (side, channels)
    pool_layers = [num_layers // 3, 2 * (num_layers // 3) + 1]
    aux_layer, aux = pool_layers[-1] + 1, 0
    c = out_filters
    for layer_id in range(num_layers + 2):
        stride, arc = (2, reduce) if layer_id in pool_layers else (1, normal)
        c = 2 * c if stride == 2 else c
        (side_x, c_x), (side_y, c_y) = layers
        if side_x != side_y or c_x != c:  # calibrate x: factorized reduction or 1x1 conv
            total += c_x * c + _bn(c)
        if c_y != c:
            total += c_y * c + _bn(c)
        if layer_base:
            total += c * c + _bn(c)
        states = [side_y, side_y]  # every state has c channels from here on
        used = [0] * 7
        for node in range(5):
            sides = []
            for index, op in (arc[4 * node : 4 * node + 2], arc[4 * node + 2 : 4 * node + 4]):
                used[index] += 1
                s = stride if index < 2 else 1
                if op in (0, 1):
                    k = (3, 5)[op]
                    total += 2 * (k * k * c + c * c + _bn(c))
                elif op == 4 and s == 2:
                    total += c * c + _bn(c)
                sides.append(states[index] // s)
            states.append(min(sides))
        outputs = [i for i in range(7) if used[i] == 0]
        side = min(states[i] for i in outputs)
        total += sum(c * c + _bn(c) for i in outputs if states[i] > side)
        layers = [layers[1], (side, c * len(outputs))]
        if layer_id == aux_layer:
            c_aux, pooled = layers[1][1], (side - 5) // 3 + 1
            aux = c_aux * 128 + _bn(128) + pooled * pooled * 128 * 768 + _bn(768) + 768 * 10
    return total + layers[1][1] * 10, aux


def autoformer_params(sample: Mapping[str, Any], classes: int = 1000, patch: int = 16,
                      img: int = 224, head_dim: int = 64, rpe_length: int = 14) -> int:  # fmt: skip
    """``get_sampled_params_numel`` of an AutoFormer subnet (q/k/v biases, as the release)."""
    e, depth, patches = int(sample["embed_dim"]), int(sample["depth"]), (img // patch) ** 2
    total = e * 3 * patch * patch + e + e * (2 + patches)
    for i in range(depth):
        q = head_dim * int(sample[f"num_head_{i}"])
        hidden = int(e * float(sample[f"mlp_ratio_{i}"]))
        total += 2 * e + 3 * (q * e + q) + q * e + e + 2 * 2 * (2 * rpe_length + 2) * head_dim
        total += 2 * e + e * hidden + hidden + hidden * e + e
    return total + 2 * e + e * classes + classes


def main() -> int:
    enas = searched_architecture("enas")
    ours = sum(p.numel() for p in load_searched_model("enas").parameters())
    cells = (enas_arc_of_sample(enas, "normal"), enas_arc_of_sample(enas, "reduce"))
    script = tuple([int(v) for v in arc.split()] for arc in ENAS_FINAL_ARC)
    nds, _ = enas_micro_params(*cells, layer_base=False)
    print(f"enas, ours: {ours}; ENAS's network without layer_base, + our classifier bias: "
          f"{nds + 10}")  # fmt: skip
    for name, arcs in (("the hub sample's cells", cells), ("cifar10_micro_final.sh", script)):
        net, aux = enas_micro_params(*arcs)
        print(f"ENAS micro_child.py, {name}: {net / 1e6:.3f}M, with aux head "
              f"{(net + aux) / 1e6:.3f}M (paper: 4.6M)")  # fmt: skip
    tiny = searched_architecture("autoformer-tiny")
    torch_count = sum(p.numel() for p in load_searched_model("autoformer-tiny").parameters())
    print(f"autoformer-tiny, ours: {torch_count / 1e6:.3f}M; AutoFormer's rule: "
          f"{autoformer_params(tiny) / 1e6:.3f}M (paper: 5.7M)")  # fmt: skip
    return 0 if nds + 10 == ours and autoformer_params(tiny) == torch_count else 1


if __name__ == "__main__":
    raise SystemExit(main())
