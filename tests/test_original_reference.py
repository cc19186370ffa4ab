"""Our modules against numbers the ORIGINAL jaywalnut310/glow-tts produced.

``tests/data/original_reference.pt`` holds the original's weights, inputs and outputs for
two small models, its attention variants, its Cython alignment search and its mel (how it
was made: ``tests/data/ORIGINAL_REFERENCE.md``). Nothing of the original is needed here:
each test loads the same weights into our module, runs the same inputs and compares.

Tolerances. Both sides compute in float32 with the same operations in nearly the same
order; the differences measured when the file was made are at most 2.4e-6 on values of
magnitude up to ~6 (mel: 1e-6). ``ATOL = 1e-5`` (the project's equality claim) leaves
room for another BLAS or thread count, and is still far below what one changed weight
does (``test_the_comparison_detects_one_changed_weight``). Masks, alignment paths and the
alignment search are 0/1 tensors and must be identical; losses are scalars near 1-3 and
are compared to 1e-5 as well.
"""

from __future__ import annotations

import os

import pytest
import torch

from glow_tts import attentions, commons
from glow_tts.audio import MelSpectrogram
from glow_tts.checkpoint import convert_original_state_dict, load_checkpoint
from glow_tts.models import FlowGenerator
from glow_tts.monotonic_align import maximum_path

REFERENCE = os.path.join(os.path.dirname(__file__), "data", "original_reference.pt")
ATOL = 1e-5
EXACT = {"z_mask", "x_mask", "attn"}   # 0/1 tensors: no rounding is possible


@pytest.fixture(scope="module")
def ref():
    return torch.load(REFERENCE, map_location="cpu", weights_only=True)


def assert_close(ours: torch.Tensor, theirs: torch.Tensor, what: str, atol: float = ATOL):
    assert ours.shape == theirs.shape, f"{what}: shape {tuple(ours.shape)} vs the original's {tuple(theirs.shape)}"
    diff = (ours.detach().float() - theirs.float()).abs().max().item() if ours.numel() else 0.0
    assert diff <= atol, f"{what}: max |ours - original| = {diff:.3g} > {atol:g}"


def compare(ours: dict, theirs: dict, where: str):
    tensors = {key: value for key, value in theirs.items() if isinstance(value, torch.Tensor)}
    assert set(ours) >= set(tensors), f"{where}: missing {set(tensors) - set(ours)}"
    for key, value in tensors.items():
        if key in EXACT:
            assert torch.equal(ours[key], value), f"{where}.{key}: differs from the original"
        else:
            assert_close(ours[key], value, f"{where}.{key}")


def load_model(entry: dict, tmp_path) -> FlowGenerator:
    """Our FlowGenerator holding the original's weights, read from an original-format
    checkpoint (``weight_g`` / ``weight_v`` keys) through the public loader."""
    model = FlowGenerator(entry["n_vocab"], **entry["config"])
    # Every key must be there: load_checkpoint only warns about missing ones.
    assert set(convert_original_state_dict(entry["weights"])) == set(model.state_dict())
    assert any(k.endswith(".weight_g") for k in entry["weights"])
    path = os.path.join(str(tmp_path), "G_0.pth")
    torch.save({"model": entry["weights"], "iteration": 0, "optimizer": None,
                "learning_rate": 1.0}, path)
    load_checkpoint(path, model)
    return model.eval()


def train_forward(model, inputs):
    (z, z_m, z_logs, logdet, z_mask), (x_m, x_logs, x_mask), (attn, logw, logw_) = model(
        inputs["x"], inputs["x_lengths"], inputs["y"], inputs["y_lengths"], g=inputs.get("g"),
        gen=False)
    return dict(z=z, z_m=z_m, z_logs=z_logs, logdet=logdet, z_mask=z_mask, x_m=x_m,
                x_logs=x_logs, x_mask=x_mask, attn=attn, logw=logw, logw_=logw_)


def gen_forward(model, inputs, noise_scale=0.0, length_scale=1.0, seed=None):
    if seed is not None:
        torch.manual_seed(seed)
    with torch.no_grad():
        (y, z_m, z_logs, logdet, z_mask), _, (attn, logw, logw_) = model(
            inputs["x"], inputs["x_lengths"], g=inputs.get("g"), gen=True,
            noise_scale=noise_scale, length_scale=length_scale)
    assert logdet is None
    return dict(y=y, z_m=z_m, z_logs=z_logs, z_mask=z_mask, attn=attn, logw=logw, logw_=logw_)


@pytest.mark.parametrize("name", ["model_a", "model_b"])
def test_training_forward_losses_and_alignment_equal_the_original(ref, name, tmp_path):
    # model_a: base.json's structure (prenet, mean-only prior, relative attention, squeeze 2);
    # model_b: learned variance, 3 speakers, sigmoid scale, block mask, dilation 2, no squeeze.
    entry = ref[name]
    model = load_model(entry, tmp_path)
    out = train_forward(model, entry["inputs"])
    compare(out, entry["train"], f"{name} gen=False")
    l_mle = commons.mle_loss(out["z"], out["z_m"], out["z_logs"], out["logdet"], out["z_mask"])
    l_dur = commons.duration_loss(out["logw"], out["logw_"], entry["inputs"]["x_lengths"])
    assert_close(l_mle, entry["losses"]["mle"], f"{name} mle loss")
    assert_close(l_dur, entry["losses"]["duration"], f"{name} duration loss")
    if "grads" in entry:
        # The backward pass too: d(mle + duration)/d(every parameter) (weight_g / weight_v
        # gradients are those of our parametrization's original0 / original1).
        (l_mle + l_dur).backward()
        grads = {k: p.grad for k, p in model.named_parameters() if p.grad is not None}
        theirs = convert_original_state_dict(entry["grads"])
        assert set(grads) == set(theirs)
        for key, value in theirs.items():
            assert_close(grads[key], value, f"{name} grad {key}")


@pytest.mark.parametrize("name", ["model_a", "model_b"])
def test_generation_equals_the_original(ref, name, tmp_path):
    entry = ref[name]
    model = load_model(entry, tmp_path)
    compare(gen_forward(model, entry["inputs"]), entry["gen"], f"{name} gen=True noise 0")
    # With noise: the same seed draws the same sample as the original (models.py keeps the
    # original's memory layout of the noise for exactly this).
    noisy = entry["gen_noise"]
    compare(gen_forward(model, entry["inputs"], noisy["noise_scale"], noisy["length_scale"],
                        seed=noisy["seed"]), noisy, f"{name} gen=True noise {noisy['noise_scale']}")
    if "gen_stored_inverse" in entry:
        model.store_inverse()
        compare(gen_forward(model, entry["inputs"]), entry["gen_stored_inverse"],
                f"{name} after store_inverse")


def test_alignment_search_equals_the_original_cython_kernel(ref):
    # Integer-valued scores (many ties) and three length pairs, one of them square.
    mas = ref["mas"]
    path = maximum_path(mas["value"], mas["mask"])
    assert path.dtype == mas["path"].dtype
    assert torch.equal(path, mas["path"])


def attention_inputs(ref, tag):
    x, mask = ref["attention"]["inputs"][f"x_{tag}"], ref["attention"]["inputs"][f"mask_{tag}"]
    return x, mask, mask.unsqueeze(2) * mask.unsqueeze(-1)


@pytest.mark.parametrize("variant", ["window", "window_heads_separate", "proximal_bias",
                                     "block_length", "all"])
def test_attention_variants_equal_the_original(ref, variant):
    # "long": t=9 with a padded item (the window's embeddings are padded);
    # "short": t=3 < window_size + 1 (they are sliced).
    entry = ref["attention"]["mha"][variant]
    mha = attentions.MultiHeadAttention(16, 16, 2, p_dropout=0.1, **entry["kwargs"])
    mha.load_state_dict(entry["weights"])
    mha.eval()
    for tag in ("long", "short"):
        x, _, attn_mask = attention_inputs(ref, tag)
        with torch.no_grad():
            out = mha(x, x, attn_mask)
        assert_close(out, entry[f"out_{tag}"], f"{variant} output ({tag})")
        assert_close(mha.attn, entry[f"attn_{tag}"], f"{variant} weights ({tag})")


def test_encoder_with_window_and_block_equals_the_original(ref):
    entry = ref["attention"]["encoder"]["window_block"]
    encoder = attentions.Encoder(16, 32, 2, 2, kernel_size=3, p_dropout=0.1, **entry["kwargs"])
    encoder.load_state_dict(entry["weights"])
    encoder.eval()
    for tag in ("long", "short"):
        x, mask, _ = attention_inputs(ref, tag)
        with torch.no_grad():
            assert_close(encoder(x, mask), entry[f"out_{tag}"], f"encoder ({tag})")


@pytest.mark.parametrize("signal", ["noise", "tone"])
def test_mel_equals_the_original(ref, signal):
    # The original's TacotronSTFT on the CPU (librosa STFT with reflect padding, as librosa
    # 0.7.1 did). Our default float64 FFT: 1e-5 on both signals (measured <= 1e-6).
    entry = ref["mel"][signal]
    assert_close(MelSpectrogram()(entry["wav"]), entry["mel"], f"mel of {signal}")
    # The float32 fast mode only on noise-like audio (measured 5e-7 there): on the tone its
    # rounding leaks into the quiet bins between the harmonics (measured 1.3e-3).
    if signal == "noise":
        fast = MelSpectrogram(fft_dtype=torch.float32)(entry["wav"])
        assert_close(fast, entry["mel"], "float32 mel of noise", atol=1e-4)


def test_the_comparison_detects_one_changed_weight(ref, tmp_path):
    # The tests above can fail: move one coupling-layer weight by 1e-3 and the outputs move
    # far beyond the tolerance.
    entry = dict(ref["model_a"])
    weights = dict(entry["weights"])
    key = "decoder.flows.2.wn.in_layers.0.weight_v"
    assert key in weights
    weights[key] = weights[key].clone()
    weights[key].view(-1)[0] += 1e-3
    entry["weights"] = weights
    out = train_forward(load_model(entry, tmp_path), entry["inputs"])
    with pytest.raises(AssertionError, match="max \\|ours - original\\|"):
        compare(out, entry["train"], "perturbed")
