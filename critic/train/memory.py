"""What `critic train` prints before it starts: the trainable parameters and a memory estimate per GPU.

The estimate (bytes on one rank):
- weights: every parameter at its stored size (fp32 masters and trainable weights 4 bytes; frozen
  bf16 weights 2), divided by the ranks under FSDP2;
- training state: 12 bytes per trainable parameter (its fp32 gradient and AdamW's two moments),
  divided by the ranks under FSDP2;
- activations of one micro batch of `max_context` tokens, at 2 bytes a value in bf16 (4 in fp32):
  per token and layer about `10 h + 3 i` values kept for backward (h the hidden size, i the MLP
  width; attention through SDPA keeps no L x L scores). With gradient checkpointing only each
  layer's input (`h`) is kept, plus one layer's full set while it is recomputed.
It leaves out the CUDA context, allocator fragmentation and temporary buffers: budget ~10% more.
bench/device_critic_train.sh prints the measured peak beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

GB = 1e9


@dataclass
class MemoryEstimate:
    weights: float
    training_state: float
    activations: float

    @property
    def total(self) -> float:
        return self.weights + self.training_state + self.activations

    def line(self) -> str:
        return (
            f"memory estimate per GPU: weights {self.weights / GB:.1f} GB + gradients and AdamW "
            f"{self.training_state / GB:.1f} GB + activations {self.activations / GB:.1f} GB = {self.total / GB:.1f} GB"
        )


def estimate_memory(
    model: nn.Module,
    *,
    tokens: int,
    bf16: bool,
    gradient_checkpointing: bool,
    world: int = 1,
) -> MemoryEstimate:
    """Bytes one rank needs to train `model` on micro batches of `tokens` tokens (see the module docstring)."""
    config = model.config
    hidden, layers = int(config.hidden_size), int(config.num_hidden_layers)
    width = int(getattr(config, "intermediate_size", 4 * hidden))
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    value = 2 if bf16 else 4
    per_layer = tokens * (10 * hidden + 3 * width) * value
    if gradient_checkpointing:
        activations = layers * tokens * hidden * value + per_layer
    else:
        activations = layers * per_layer
    return MemoryEstimate(weights / world, 12 * trainable / world, float(activations))
