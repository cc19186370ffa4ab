"""The ONNX export (glow_tts/export.py): onnxruntime gives PyTorch's mel and durations.

An untrained model of configs/tiny.json's shape (random weights give durations of 1 to 5
frames, enough to exercise the alignment) is exported once with the CLI; 20 corpus
sentences then go through both backends.
"""

import json
import os

import numpy as np
import pytest
import torch

from fault_fixtures import drop_unknown_keys, micro_config, write_json

from glow_tts import commons
from glow_tts.__main__ import main
from glow_tts.checkpoint import save_checkpoint
from glow_tts.export import OnnxSynthesizer, expand_prior
from glow_tts.hparams import HParams, validate_config
from glow_tts.inference import build_model, load_model, synthesize, text_to_ids

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SENTENCES_TSV = os.path.join(REPO, "glow_tts", "corpus", "sentences.tsv")


def tiny_run(run_dir: str, seed: int = 0) -> str:
    """run_dir/config.json + G_5.pth: configs/tiny.json's model, random weights."""
    os.makedirs(run_dir, exist_ok=True)
    config = drop_unknown_keys(micro_config({"train": "unused.txt", "val": "unused.txt"}))
    with open(os.path.join(REPO, "configs", "tiny.json"), encoding="utf-8") as f:
        config["model"] = json.load(f)["model"]
    write_json(os.path.join(run_dir, "config.json"), config)
    torch.manual_seed(seed)
    model = build_model(HParams(**validate_config(config)))
    save_checkpoint(model, None, 1.0, 5, os.path.join(run_dir, "G_5.pth"))
    return run_dir


def sentences(n: int = 20) -> list[str]:
    with open(SENTENCES_TSV, encoding="utf-8") as f:
        rows = [line.split("\t")[0] for line in f if line.strip() and not line.startswith("#")]
    return rows[::max(1, len(rows) // n)][:n]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """This model is tiny: a second torch thread only adds wake-ups (and, on a loaded
    machine, 40x the wall time)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    run = tiny_run(str(root / "run"))
    assert main(["export", "-m", run, "--out", str(root / "onnx")]) == 0
    model, hps = load_model(run)
    return model, hps, OnnxSynthesizer(str(root / "onnx"), threads=1), str(root / "onnx")


def test_onnxruntime_matches_pytorch_on_20_sentences(exported):
    model, hps, onnx, _ = exported
    texts = sentences()
    assert len(texts) == 20
    for k, text in enumerate(texts):
        ids = text_to_ids(text, hps).unsqueeze(0)                   # [1, t_x]
        lengths = torch.tensor([ids.size(1)])
        for length_scale in ((1.0, 1.4)[k % 2],):
            ref = model.infer(ids, lengths, noise_scale=0.0, length_scale=length_scale)
            got = onnx.run(ids.numpy(), lengths.numpy(), noise_scale=0.0, length_scale=length_scale)
            assert np.array_equal(got["durations"], ref.durations.numpy()), text
            assert got["mel"].shape == tuple(ref.mel.shape), text
            assert np.abs(got["mel"] - ref.mel.numpy()).max() <= 1e-4, text


def test_same_seed_same_noise_as_pytorch(exported):
    """synthesize() with either backend: the onnxruntime one draws the PyTorch noise."""
    model, hps, onnx, _ = exported
    text = "오늘은 3월 15일, 날씨가 맑습니다."
    ref = synthesize(model, hps, text, noise_scale=0.667, vocode=False, seed=7)
    got = synthesize(onnx, hps, text, noise_scale=0.667, vocode=False, seed=7)
    assert torch.equal(got["durations"], ref["durations"])
    assert (got["mel"] - ref["mel"]).abs().max() <= 1e-4
    other = synthesize(onnx, hps, text, noise_scale=0.667, vocode=False, seed=8)
    assert (other["mel"] - ref["mel"]).abs().max() > 0.1   # the seed does reach the noise


def test_expand_prior_is_the_models_alignment():
    """expand_prior (NumPy, the step between the graphs) against commons.generate_path and
    the model's own expansion, on a padded batch with odd totals (n_sqz trims them)."""
    g = torch.Generator().manual_seed(0)
    w = torch.randint(0, 6, (3, 9), generator=g).float()
    x_lengths = torch.tensor([9, 6, 1])
    x_mask = commons.sequence_mask(x_lengths, 9).unsqueeze(1).float()   # [b, 1, t_x]
    w = w * x_mask.squeeze(1)
    x_m, x_logs = torch.randn(3, 4, 9, generator=g), torch.randn(3, 4, 9, generator=g)
    n_sqz = 2
    y_lengths = (torch.clamp_min(w.sum(1), 1).long() // n_sqz) * n_sqz
    z_mask = commons.sequence_mask(y_lengths, int(y_lengths.max())).unsqueeze(1).float()
    attn = commons.generate_path(w, (x_mask.unsqueeze(-1) * z_mask.unsqueeze(2)).squeeze(1))
    got = expand_prior(x_m.numpy(), x_logs.numpy(), w.numpy(), x_mask.numpy(), n_sqz)
    assert np.array_equal(got["attn"], attn.numpy())
    assert np.array_equal(got["y_lengths"], y_lengths.numpy())
    assert np.array_equal(got["z_mask"], z_mask.numpy())
    assert np.allclose(got["z_m"], (x_m @ attn).numpy(), atol=1e-6)
    assert np.allclose(got["z_logs"], (x_logs @ attn).numpy(), atol=1e-6)


def test_synthesize_cli_onnxruntime_backend(exported, tmp_path, capsys):
    """--backend onnxruntime with an export folder (--onnx) and without (exported on the
    fly): the same WAV as the PyTorch backend, to rounding."""
    model, hps, _, onnx_dir = exported
    run = os.path.join(os.path.dirname(onnx_dir), "run")
    runs = {"pytorch": [], "onnx-dir": ["--backend", "onnxruntime", "--onnx", onnx_dir],
            "onnx-fly": ["--backend", "onnxruntime"]}
    for name, extra in runs.items():
        assert main(["synthesize", "-m", run, "안녕하세요.", "--out", str(tmp_path / name), *extra]) == 0
    import soundfile
    a, _ = soundfile.read(tmp_path / "pytorch" / "0000.wav")
    for name in ("onnx-dir", "onnx-fly"):
        b, _ = soundfile.read(tmp_path / name / "0000.wav")
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-3, name
    capsys.readouterr()
    _fails(["synthesize", "-m", run, "가", "--out", str(tmp_path / "x"), "--onnx", onnx_dir],
           capsys, "only with --backend onnxruntime")
    _fails(["synthesize", "-m", run, "가", "--out", str(tmp_path / "x"), "--backend", "onnxruntime",
            "--onnx", str(tmp_path)], capsys, "no export.json")
    assert not (tmp_path / "x").exists()


# --- bad input: one line, exit 2, nothing written ------------------------------------------

def _fails(argv, capsys, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    for word in words:
        assert word in err, err


def test_export_refuses_bad_input_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    _fails(["export", "-m", str(tmp_path / "missing"), "--out", str(out)], capsys, "no such run")
    empty_run = tmp_path / "empty_run"
    empty_run.mkdir()
    (empty_run / "config.json").write_text("{}")
    _fails(["export", "-m", str(empty_run), "--out", str(out)], capsys, "no G_<step>.pth")
    assert not out.exists()
    run = tiny_run(str(tmp_path / "run"))
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    _fails(["export", "-m", run, "--out", str(out)], capsys, "not empty")
    assert sorted(os.listdir(out)) == ["keep.txt"]
    _fails(["export", "-m", run, "--out", str(tmp_path / "o2"), "--checkpoint",
            str(tmp_path / "G_9.pth")], capsys, "no such file")
    assert not (tmp_path / "o2").exists()
    (tmp_path / "file").write_text("")
    _fails(["export", "-m", run, "--out", str(tmp_path / "file")], capsys, "is a file")
    (empty_run / "config.json").unlink()
    _fails(["export", "-m", str(empty_run), "--out", str(tmp_path / "o3")], capsys, "no config.json")
    assert sorted(os.listdir(tmp_path)) == ["empty_run", "file", "out", "run"]   # no stray temp folder
