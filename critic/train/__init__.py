"""`critic train`: Episodes (critic.data) -> TD(lambda) targets -> a trained value head.

loop     the training loop (FSDP2 when sharded): windows -> targets -> loss -> checkpoint
targets  the TD(lambda) value targets per turn
resume   the training state saved between epochs and read back
metrics  held-out value metrics (also the experiment's report)
lora     LoRA adapters (peft) while training, merged into a plain checkpoint at save
memory   the trainable parameter count and memory estimate `critic train` prints
"""
