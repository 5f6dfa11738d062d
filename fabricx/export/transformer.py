"""model.optimized.onnx: ONNX Runtime's transformer optimizer (attention, layer-norm, GELU fusion)
applied to the portable model.onnx.

The result holds ONNX Runtime contrib ops (com.microsoft Attention, SkipLayerNormalization,
BiasGelu, ...): fast on ONNX Runtime, unreadable by TensorRT, so it is a file of its own and
model.onnx stays standard ONNX.

The fusions match graph patterns. Two things in a dynamo-exported Hugging Face encoder defeat
the attention fusion, and `prepare_for_fusion` / `optimize_transformer` undo them:

- transformers 5 builds the attention mask with vmapped index logic (Range, GatherND, And,
  Where) and scales scores with a Mul, next to the mask's own: no mask pattern of the fusion
  matches. The export copy gets eager attention and a forward pre-hook that passes the 2D
  mask on in BERT's classic additive 4D form (the same numbers; a 4D mask is used as given).
- the exporter folds the mask's two Unsqueezes into one with two axes; the fusion looks for
  two. Each multi-axis Unsqueeze is split into single-axis ones before optimizing.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fabricx import atomic
from fabricx.errors import FabricxError
from fabricx.export.family import ENCODER_TYPES, ORT_MODEL_TYPES, Family

CONTRIB_DOMAIN = "com.microsoft"


def prepare_for_fusion(model: nn.Module, family: Family) -> list[str]:
    """Make `model` (a copy about to be exported) trace to the attention pattern ONNX
    Runtime's fusion knows; returns the Hugging Face modules changed (none: nothing to do).

    Only encoders (BERT-like, not decoders): their mask is bidirectional, so the classic form
    says the same. The exported graph is standard ONNX either way.
    """
    transformers = sys.modules.get("transformers")
    if transformers is None or family.model_type not in ENCODER_TYPES:
        return []
    changed: list[str] = []
    inside: set[int] = set()  # modules under one already changed
    for module in model.modules():
        if id(module) in inside or not isinstance(module, transformers.PreTrainedModel):
            continue
        config = module.config
        encoder = ORT_MODEL_TYPES.get(config.model_type) in ENCODER_TYPES
        if not encoder or getattr(config, "is_decoder", False):
            continue
        module.set_attn_implementation("eager")
        module.register_forward_pre_hook(_classic_attention_mask, with_kwargs=True)
        inside.update(id(m) for m in module.modules())
        changed.append(type(module).__name__)
    return changed


def _classic_attention_mask(
    module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """A (batch, sequence) 0/1 mask as (batch, 1, sequence, sequence) additive scores: 0 where
    attended, the dtype's minimum where masked, as BERT built it before transformers 5."""
    mask = kwargs.get("attention_mask")
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2:
        return None
    batch, length = mask.shape
    expanded = mask[:, None, None, :].expand(batch, 1, length, length).to(torch.float32)
    inverted = 1.0 - expanded
    lowest = torch.finfo(torch.float32).min
    kwargs["attention_mask"] = inverted.masked_fill(inverted.to(torch.bool), lowest)
    return args, kwargs


def optimize_transformer(src: Path, dst: Path, family: Family) -> dict[str, int]:
    """Run ONNX Runtime's transformer optimizer on `src`, write the result to `dst` (checked,
    atomically); return how many of each fused (contrib) op it holds.

    opt_level 0: the optimizer's own fusions only, so the file stays portable across CPUs;
    ONNX Runtime applies its graph optimizations when a session loads it. The attention mask
    stays a raw 2D mask (not sequence lengths), so left and right padding both work.
    """
    import onnx
    from onnxruntime.transformers.fusion_options import AttentionMaskFormat, FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    model_type = family.model_type or "bert"
    external = Path(f"{src}.data").is_file()
    model = onnx.load(str(src))
    split_unsqueezes(model)
    options = FusionOptions(model_type)
    options.attention_mask_format = AttentionMaskFormat.AttentionMask
    staging = Path(tempfile.mkdtemp(prefix=".optimize-", dir=dst.parent))
    quiet = logging.getLogger("onnxruntime.transformers")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # its INFO lines, one per fusion, are noise in a run's log
    try:
        optimized = optimize_model(
            model, model_type=model_type, num_heads=family.num_heads,
            hidden_size=family.hidden_size, optimization_options=options, opt_level=0,
        )  # fmt: skip
        optimized.save_model_to_file(str(staging / dst.name), use_external_data_format=external)
        onnx.checker.check_model(str(staging / dst.name), full_check=True)
        counts = fused_op_counts(staging / dst.name)
        atomic.publish_beside(staging, dst)
        return counts
    except Exception as err:
        raise FabricxError(
            f"ONNX Runtime's transformer optimizer failed on {src} ({type(err).__name__}: "
            f"{err}); export without it: export.onnx.optimize=none."
        ) from err
    finally:
        quiet.setLevel(level)
        shutil.rmtree(staging, ignore_errors=True)


def fused_op_counts(path: Path) -> dict[str, int]:
    """How many nodes of each ONNX Runtime contrib op type the graph at `path` holds."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    fused = Counter(node.op_type for node in graph.node if node.domain == CONTRIB_DOMAIN)
    return dict(sorted(fused.items()))


def split_unsqueezes(model: Any) -> int:
    """Split each Unsqueeze with several constant non-negative axes into a chain of one-axis
    Unsqueezes (the same result: ascending axes inserted one at a time); returns how many."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    nodes, split = [], 0
    for node in graph.node:
        axes_init = initializers.get(node.input[1]) if node.op_type == "Unsqueeze" else None
        axes = numpy_helper.to_array(axes_init).reshape(-1).tolist() if axes_init else []
        if len(axes) < 2 or min(axes) < 0:
            nodes.append(node)
            continue
        current = node.input[0]
        name = node.name or node.output[0]
        for i, axis in enumerate(sorted(axes)):
            axis_name = f"{name}__axis{axis}"
            axis_array = np.array([axis], dtype=np.int64)
            graph.initializer.append(numpy_helper.from_array(axis_array, axis_name))
            last = i == len(axes) - 1
            out = node.output[0] if last else f"{axis_name}__out"
            nodes.append(helper.make_node("Unsqueeze", [current, axis_name], [out], name=axis_name))
            current = out
        split += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return split
