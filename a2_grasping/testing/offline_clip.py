"""CLIP models and tokenizers built on this machine, never downloaded: for tests and benchmarks.

Real weights come from a local directory (core.policy.clip_features.load_clip). These builders
give random weights of any size, and a letter-level tokenizer that is enough to exercise
padding, EOT pooling and the text path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

LETTERS = "abcdefghijklmnopqrstuvwxyz"
# Special tokens + one token per letter, word-final or not.
LETTER_VOCAB_SIZE = 2 + 2 * len(LETTERS)

# Vision/text towers of the published checkpoints (spec §1.4 for ViT-L/14@336px).
VIT_L14_336 = {
    "vision": {
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "image_size": 336,
        "patch_size": 14,
    },
    "text": {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
    },
    "projection_dim": 768,
}
VIT_B32 = {
    "vision": {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "image_size": 224,
        "patch_size": 32,
    },
    "text": {
        "hidden_size": 512,
        "intermediate_size": 2048,
        "num_hidden_layers": 12,
        "num_attention_heads": 8,
    },
    "projection_dim": 512,
}

# ViT-L's patch grid and input size with tiny towers, projected to the fusion network's width
# (768): a2 mode's whole path at CPU speed (smoke tests, dry runs).
SMALL_CLIP = {
    "vision": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 336,
        "patch_size": 14,
    },
    "text": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
    },
    "projection_dim": 768,
}


def write_letter_vocab(directory: Path) -> tuple[Path, Path]:
    """vocab.json and an empty merges.txt for a letter-level CLIP BPE tokenizer."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for letter in LETTERS:
        vocab[letter] = len(vocab)
    for letter in LETTERS:
        vocab[f"{letter}</w>"] = len(vocab)
    directory.mkdir(parents=True, exist_ok=True)
    vocab_path = directory / "vocab.json"
    merges_path = directory / "merges.txt"
    vocab_path.write_text(json.dumps(vocab))
    merges_path.write_text("#version: 0.2\n")
    return vocab_path, merges_path


def letter_tokenizer(directory: Path) -> CLIPTokenizer:
    vocab_path, merges_path = write_letter_vocab(directory)
    return CLIPTokenizer(vocab=str(vocab_path), merges=str(merges_path))


def random_clip(towers: dict[str, Any]) -> CLIPModel:
    """A CLIPModel of the given tower sizes with transformers' random initialisation."""
    text = dict(
        towers["text"],
        vocab_size=LETTER_VOCAB_SIZE,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    config = CLIPConfig(
        text_config=text, vision_config=towers["vision"], projection_dim=towers["projection_dim"]
    )
    return CLIPModel(config).eval()
