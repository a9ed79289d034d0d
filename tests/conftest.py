import json
from functools import lru_cache
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PARITY = FIXTURES / "parity"


def tiny_checkpoint(gen: str) -> Path:
    """The official-format tiny single file of a generation ("19b" or "22b")."""
    return PARITY / gen / f"tiny_{gen}.safetensors"


@lru_cache(maxsize=None)
def tiny_config(gen: str) -> dict:
    """That file's metadata `config`, as the fixture index records it."""
    index = json.loads((PARITY / "index.json").read_text())
    return index["checkpoints"][f"{gen}/tiny_{gen}.safetensors"]["metadata"]["config"]


@pytest.fixture
def parity_dir() -> Path:
    return PARITY


def encode_prompts(encoder, prompts):
    """Drive `PromptEncoder.encode_steps` as the runner does: evaluate each batch, return the embeddings."""
    import mlx.core as mx

    steps = encoder.encode_steps(prompts)
    while True:
        try:
            step = next(steps)
        except StopIteration as stop:
            return stop.value
        mx.eval(step.embeddings.video, step.embeddings.audio, step.embeddings.mask)
