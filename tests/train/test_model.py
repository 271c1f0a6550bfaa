"""Sizes, initialisation and the FLOPs count behind MFU."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the train extra is not installed (make test installs it)")

from torch.utils.flop_counter import FlopCounterMode

from wsdata.train import model as mdl
from wsdata.vocab import Vocab

pytestmark = pytest.mark.model

V = Vocab.bundled()
TINY = {
    "d_model": 64,
    "encoder_layers": 2,
    "decoder_layers": 3,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 128,
    "decoder_ffn_dim": 256,
}


@pytest.mark.parametrize(
    "size,params",
    [
        ("tiny", 37_760_640),
        ("base", 72_593_920),
        ("small", 241_734_912),
        ("medium", 763_857_920),
        ("large", 1_543_304_960),
    ],
)
def test_sizes_have_the_released_checkpoints_parameter_counts(size, params):
    from transformers import WhisperForConditionalGeneration

    with torch.device("meta"):  # shapes only
        model = WhisperForConditionalGeneration(mdl.config_for(size, V))
    assert sum(p.numel() for p in model.parameters()) == params


def test_gaussian_fan_in_initialisation():
    model = mdl.build("tiny", None, V, **TINY)
    fc1 = model.model.encoder.layers[0].fc1  # 64 -> 128
    conv1 = model.model.encoder.conv1  # 80 channels x kernel 3 in
    assert abs(fc1.weight.std().item() - 64**-0.5) < 0.1 * 64**-0.5 and not fc1.bias.any()
    assert abs(conv1.weight.std().item() - 240**-0.5) < 0.1 * 240**-0.5
    assert torch.equal(mdl.build("tiny", None, V, **TINY).state_dict()["proj_out.weight"], model.proj_out.weight)


@pytest.mark.parametrize("n_mels,n_tokens", [(80, 37), (128, 5)])
def test_flops_per_sample_equals_torchs_count_of_a_training_step(n_mels, n_tokens):
    model = mdl.build("tiny", None, V, n_mels, attn="eager", **TINY)  # eager: attention as counted matmuls
    feats, ids = torch.randn(2, n_mels, 3000), torch.randint(0, 50_000, (2, n_tokens))
    with FlopCounterMode(display=False) as counter:
        model(input_features=feats, decoder_input_ids=ids, use_cache=False).logits.float().mean().backward()
    assert counter.get_total_flops() / 2 == pytest.approx(mdl.flops_per_sample(model.config, n_tokens), rel=1e-9)
