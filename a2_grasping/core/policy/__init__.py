"""The A2 policy: per-point CLIP features (clip_tiling, maskclip, point_fusion, run by
clip_features), the fusion network (points x candidate actions -> logits), its scorer and strict
checkpoint loaders, and the device / precision choice.

Kept checkpoint-compatible with the published `sl_checkpoint_199.pth`. May import core's shared
modules (scene, geometry, configs); selection/ uses it, never the reverse.
"""
