from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PARITY = FIXTURES / "parity"


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
