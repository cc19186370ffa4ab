"""The demo learns: quality metrics, and a shortened demo run (GLOW_TTS_QUICK=1).

The full demo (configs/tiny.json, a few minutes) is measured by bench/quality.py against
the real targets (duration error <= 12 %, mel ratio <= 0.45). Here a shortened run must
clear looser thresholds that the untrained model (DDI only) fails, so a broken training
loop, loss, alignment search or inference path is caught.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from glow_tts import quality

# Thresholds for the shortened run (200 steps, see glow_tts.demo.QUICK_STEPS). Measured
# here: after 100 steps 0.31 and 0.75, after 200 steps 0.10 and 0.37; the untrained model
# (DDI only) 0.77 and 1.23.
QUICK_DURATION_ERROR = 0.25
QUICK_MEL_RATIO = 0.60


# --- the metrics themselves -----------------------------------------------------------

def test_dtw_error_is_zero_for_a_time_stretched_copy_and_symmetric():
    rng = np.random.default_rng(0)
    mel = rng.normal(size=(80, 50))
    assert quality.dtw_mel_error(mel, mel) == 0.0
    assert quality.dtw_mel_error(np.repeat(mel, 2, axis=1), mel) == 0.0
    other = rng.normal(size=(80, 40))
    assert quality.dtw_mel_error(mel, other) == pytest.approx(quality.dtw_mel_error(other, mel))
    assert quality.dtw_mel_error(mel, other) > 0.5


def test_dtw_error_by_hand_on_a_tiny_case():
    a = np.array([[0.0, 1.0, 2.0]])       # 1 band, 3 frames
    b = np.array([[0.0, 2.0]])            # 1 band, 2 frames
    # Best path: (0,0) cost 0, (1,1) cost 1, (2,1) cost 0 -> 1 over 3 steps.
    assert quality.dtw_mel_error(a, b) == pytest.approx(1 / 3)


def test_constant_mean_mel_scores_exactly_the_baseline():
    rng = np.random.default_rng(1)
    real = [rng.normal(size=(80, n)) for n in (30, 45)]
    mean = quality.mean_mel(real)
    assert mean.shape == (80,)
    np.testing.assert_allclose(mean, np.concatenate(real, axis=1).mean(axis=1))
    constant = [np.repeat(mean[:, None], r.shape[1], axis=1) for r in real]
    result = quality.mel_error_ratio(constant, real, mean)
    assert result["ratio"] == pytest.approx(1.0)
    assert quality.mel_error_ratio(real, real, mean)["ratio"] == 0.0


def test_duration_error():
    assert quality.duration_error([90, 110], [100, 100]) == pytest.approx(0.1)
    assert quality.duration_error([100, 300], [100, 300]) == 0.0
    # Normalised by the mean real length, not per sentence.
    assert quality.duration_error([150, 300], [100, 300]) == pytest.approx(25 / 200)
    with pytest.raises(ValueError):
        quality.duration_error([1, 2], [1])


# --- the shortened demo ------------------------------------------------------------------

@pytest.mark.slow
def test_quick_demo_learns_what_an_untrained_model_cannot(tmp_path, monkeypatch):
    from glow_tts.demo import QUICK_STEPS, run_demo

    monkeypatch.setenv("GLOW_TTS_QUICK", "1")
    out = tmp_path / "demo"
    summary = run_demo(str(out), verbose=False)
    assert summary["quick"] and summary["steps"] == QUICK_STEPS

    # Everything the summary promises is on disk.
    with open(out / "summary.json", encoding="utf-8") as f:
        assert json.load(f)["steps"] == QUICK_STEPS
    assert len(summary["samples"]) >= 10
    for sample in summary["samples"]:
        assert os.path.getsize(sample["wav"]) > 1000 and os.path.getsize(sample["png"]) > 1000
    assert os.path.isfile(out / "model" / "ddi_G.pth")
    assert os.path.isfile(out / "model" / f"G_{QUICK_STEPS}.pth")

    # The trained model clears the thresholds ...
    assert summary["duration_error"] <= QUICK_DURATION_ERROR, summary["duration_error"]
    assert summary["mel_ratio"] <= QUICK_MEL_RATIO, summary["mel_ratio"]
    # ... which the same model before training (after DDI) fails: they measure learning.
    untrained = quality.evaluate_checkpoint(str(out / "model"), str(out / "model" / "ddi_G.pth"))
    assert untrained["duration_error"] > QUICK_DURATION_ERROR, untrained
    assert untrained["mel_ratio"] > QUICK_MEL_RATIO, untrained
