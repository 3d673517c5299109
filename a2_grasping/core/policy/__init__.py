"""The A2 fusion network (points x candidate actions -> logits) and its strict checkpoint loader.

Kept ROS-free and checkpoint-compatible with the published `sl_checkpoint_199.pth`, so the node
layer only has to feed tensors in and read an index out.
"""
