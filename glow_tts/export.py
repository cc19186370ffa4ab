"""The inference path as ONNX, for onnxruntime (Python here, JavaScript in a browser).

    python -m glow_tts export -m RUN --out DIR     # DIR/encoder.onnx, decoder.onnx, export.json

Generation has one step whose output *shape* depends on the data: the number of mel frames
is the sum of the predicted durations. An ONNX graph can express that, but a graph that
builds the alignment itself is hard to check and slow in onnxruntime-web, so the path is
cut in two graphs with a little arithmetic between them, done by the caller:

1. ``encoder.onnx``: token ids ``x`` [b, t_x] (int64), ``x_lengths`` [b] (int64) and
   ``length_scale`` [] (float32) -> the prior means ``x_m`` and log standard deviations
   ``x_logs`` [b, c, t_x], the whole-frame durations ``w_ceil`` [b, t_x] (float32, already
   ``ceil(exp(logw) * length_scale)`` as :meth:`FlowGenerator.forward` computes them) and
   ``x_mask`` [b, 1, t_x].
2. the caller: :func:`expand_prior` turns durations into the hard alignment (one 1 per
   frame), repeats each token's prior over its frames and adds the noise. It is plain
   NumPy, a few lines, so the JavaScript page can do the same thing step by step.
3. ``decoder.onnx``: ``z`` [b, c, t_y] and ``z_mask`` [b, 1, t_y] -> ``mel`` [b, c, t_y],
   the flow run backwards.

:class:`OnnxSynthesizer` runs the three steps with onnxruntime; ``synthesize --backend
onnxruntime`` uses it. Given the same seed it draws the same noise as the PyTorch model, so
both backends give the same mel (to float rounding). tests/test_export.py checks that on 20
sentences: mels within 1e-4 at ``noise_scale`` 0, durations identical.

Multi-speaker models (``n_speakers > 1``) are not exported yet.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import warnings

import numpy as np
import torch
from torch import nn

from glow_tts.errors import GlowTTSError

ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"
MANIFEST_FILE = "export.json"
OPSET = 17


class ExportError(GlowTTSError):
    """An export the user asked for that cannot be done (no run, no checkpoint, output not empty)."""


# --- the step between the graphs (shared by every caller) -------------------------------

def expand_prior(x_m: np.ndarray, x_logs: np.ndarray, w_ceil: np.ndarray, x_mask: np.ndarray,
                 n_sqz: int) -> dict:
    """From the encoder's outputs to the decoder's prior, in NumPy.

    x_m, x_logs: [b, c, t_x]; w_ceil: [b, t_x] whole frames per token; x_mask: [b, 1, t_x].
    Returns ``{"attn" [b, t_x, t_y], "z_m", "z_logs" [b, c, t_y], "z_mask" [b, 1, t_y],
    "y_lengths" [b]}`` (float32, y_lengths int64). As :meth:`FlowGenerator.forward` with
    ``gen=True``: each item gets ``max(1, sum(w_ceil))`` frames, rounded down to a multiple
    of ``n_sqz`` (the decoder folds ``n_sqz`` frames together); token ``i`` owns the frames
    ``end[i-1] <= y < end[i]`` with ``end = cumsum(w_ceil)``, cut at the item's length.
    """
    y_lengths = np.maximum(w_ceil.sum(axis=1), 1).astype(np.int64)   # [b]
    y_lengths = (y_lengths // n_sqz) * n_sqz
    t_y = int(y_lengths.max())
    frames = np.arange(t_y)                                          # [t_y]
    z_mask = (frames[None, :] < y_lengths[:, None]).astype(np.float32)[:, None, :]  # [b, 1, t_y]
    end = np.cumsum(w_ceil, axis=1)                                  # [b, t_x] first frame after token
    start = end - w_ceil                                             # [b, t_x] its first frame
    attn = ((frames[None, None, :] >= start[:, :, None]) & (frames[None, None, :] < end[:, :, None]))
    attn = attn.astype(np.float32) * x_mask[:, 0, :, None] * z_mask  # [b, t_x, t_y]
    return {"attn": attn, "z_m": np.matmul(x_m, attn).astype(np.float32),
            "z_logs": np.matmul(x_logs, attn).astype(np.float32), "z_mask": z_mask,
            "y_lengths": y_lengths}


def prior_noise(b: int, c: int, t_y: int, seed: int | None) -> np.ndarray:
    """Standard normal noise [b, c, t_y] drawn exactly as :meth:`FlowGenerator.forward`
    draws it (a [b, c, t_y] view of [b, t_y, c] memory), from ``torch.manual_seed(seed)``
    in a forked RNG, so a seed gives the PyTorch backend's sample."""
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return torch.empty(b, t_y, c).transpose(1, 2).normal_().numpy()


# --- the two graphs ----------------------------------------------------------------------

class EncoderGraph(nn.Module):
    """Ids -> prior and whole-frame durations: the first half of the generation branch."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, x_lengths, length_scale):
        x_m, x_logs, logw, x_mask = self.model.encoder(x, x_lengths)
        w_ceil = torch.ceil(torch.exp(logw) * x_mask * length_scale)  # [b, 1, t_x]
        return x_m, x_logs, w_ceil.squeeze(1), x_mask


class DecoderGraph(nn.Module):
    """Latent -> mel: the flow run backwards."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, z, z_mask):
        mel, _ = self.model.decoder(z, z_mask, reverse=True)
        return mel


def export_model(model, hps, out_dir: str, source: dict | None = None) -> dict:
    """Write ``out_dir/encoder.onnx``, ``decoder.onnx`` and ``export.json`` (what the caller
    needs: n_sqz, channels, sampling and STFT settings, cleaners, add_blank, the source run).
    ``model`` must be in eval mode with :meth:`~FlowGenerator.store_inverse` called (as
    :func:`glow_tts.inference.load_model` returns it). Returns the manifest."""
    if getattr(model, "n_speakers", 0) > 1:
        raise ExportError("multi-speaker models (n_speakers > 1) cannot be exported yet")
    os.makedirs(out_dir, exist_ok=True)
    t_x = 13
    x = torch.randint(1, model.n_vocab, (1, t_x))
    x_lengths = torch.tensor([t_x])
    length_scale = torch.tensor(1.0)
    z = torch.randn(1, model.out_channels, 4 * model.n_sqz)
    z_mask = torch.ones(1, 1, z.size(2))
    # The TorchScript exporter (dynamo=False) records one trace; the time axes are symbolic.
    # Its tracer warns about every Python `if` on a shape (all are argument checks here).
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(EncoderGraph(model).eval(), (x, x_lengths, length_scale),
                          os.path.join(out_dir, ENCODER_FILE), dynamo=False, opset_version=OPSET,
                          input_names=["x", "x_lengths", "length_scale"],
                          output_names=["x_m", "x_logs", "w_ceil", "x_mask"],
                          dynamic_axes={"x": {0: "b", 1: "t_x"}, "x_lengths": {0: "b"},
                                        "x_m": {0: "b", 2: "t_x"}, "x_logs": {0: "b", 2: "t_x"},
                                        "w_ceil": {0: "b", 1: "t_x"}, "x_mask": {0: "b", 2: "t_x"}})
        torch.onnx.export(DecoderGraph(model).eval(), (z, z_mask),
                          os.path.join(out_dir, DECODER_FILE), dynamo=False, opset_version=OPSET,
                          input_names=["z", "z_mask"], output_names=["mel"],
                          dynamic_axes={"z": {0: "b", 2: "t_y"}, "z_mask": {0: "b", 2: "t_y"},
                                        "mel": {0: "b", 2: "t_y"}})
    d = hps.data
    manifest = {
        "format": 1, "opset": OPSET, "n_sqz": model.n_sqz, "out_channels": model.out_channels,
        "n_vocab": model.n_vocab, "text_cleaners": list(d.text_cleaners),
        "add_blank": bool(d.add_blank),
        "audio": {k: getattr(d, k) for k in ("sampling_rate", "filter_length", "hop_length", "win_length",
                                    "mel_fmin", "mel_fmax")},
        "source": source or {},
    }
    with open(os.path.join(out_dir, MANIFEST_FILE), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
    return manifest


# --- running the graphs ------------------------------------------------------------------

class OnnxSynthesizer:
    """The exported path in onnxruntime: ``infer`` has the meaning of
    :meth:`FlowGenerator.infer` but takes and returns NumPy arrays.

    ``threads``: onnxruntime intra-op threads (None: its default, all cores)."""

    def __init__(self, export_dir: str, threads: int | None = None):
        import onnxruntime as ort

        with open(os.path.join(export_dir, MANIFEST_FILE), encoding="utf-8") as f:
            self.manifest = json.load(f)
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        # Idle worker threads spin by default: on a shared, loaded machine that steals the
        # cores the busy threads need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        self.encoder = ort.InferenceSession(os.path.join(export_dir, ENCODER_FILE), options,
                                            providers=providers)
        self.decoder = ort.InferenceSession(os.path.join(export_dir, DECODER_FILE), options,
                                            providers=providers)
        self.n_sqz = int(self.manifest["n_sqz"])

    def run(self, x: np.ndarray, x_lengths: np.ndarray, noise_scale: float = 0.667,
            length_scale: float = 1.0, seed: int | None = 0) -> dict:
        """x: [b, t_x] int64 ids, x_lengths: [b] -> ``{"mel" [b, c, t_y], "mel_lengths" [b],
        "attn" [b, t_x, t_y], "durations" [b, t_x]}`` (NumPy); noise as the PyTorch model
        draws it from ``seed`` (None: torch's global RNG)."""
        x_m, x_logs, w_ceil, x_mask = self.encoder.run(None, {
            "x": np.asarray(x, dtype=np.int64), "x_lengths": np.asarray(x_lengths, dtype=np.int64),
            "length_scale": np.asarray(length_scale, dtype=np.float32)})
        prior = expand_prior(x_m, x_logs, w_ceil, x_mask, self.n_sqz)
        z_m, z_logs, z_mask = prior["z_m"], prior["z_logs"], prior["z_mask"]
        noise = prior_noise(*z_m.shape, seed)
        z = ((z_m + np.exp(z_logs) * noise * np.float32(noise_scale)) * z_mask).astype(np.float32)
        (mel,) = self.decoder.run(None, {"z": z, "z_mask": z_mask})
        attn = prior["attn"]
        return {"mel": mel, "mel_lengths": prior["y_lengths"], "attn": attn,
                "durations": attn.sum(-1).astype(np.int64)}

    def infer(self, x: torch.Tensor, x_lengths: torch.Tensor, noise_scale: float = 0.667,
              length_scale: float = 1.0, g: torch.Tensor | None = None):
        """:meth:`FlowGenerator.infer`'s signature and result (CPU tensors), noise from torch's
        global RNG as there: :func:`glow_tts.inference.synthesize` takes either."""
        from glow_tts.models import InferenceResult

        if g is not None:
            raise ExportError("the exported graphs take no speaker ids")
        out = self.run(x.cpu().numpy(), x_lengths.cpu().numpy(), noise_scale, length_scale, seed=None)
        return InferenceResult(mel=torch.from_numpy(out["mel"]),
                               mel_lengths=torch.from_numpy(out["mel_lengths"]),
                               attn=torch.from_numpy(out["attn"]),
                               durations=torch.from_numpy(out["durations"]))


def onnx_backend(model, hps, export_dir: str | None = None, threads: int | None = None) -> OnnxSynthesizer:
    """An :class:`OnnxSynthesizer` of ``export_dir``, or (None) of ``model`` exported into a
    temporary folder that is removed once onnxruntime has read the graphs."""
    if export_dir is not None:
        return OnnxSynthesizer(export_dir, threads)
    with tempfile.TemporaryDirectory(prefix="glow-tts-onnx-") as tmp:
        export_model(model, hps, tmp)
        return OnnxSynthesizer(tmp, threads)


# --- the command -------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    """``python -m glow_tts export -m RUN --out DIR``: check everything, then export the
    newest good checkpoint of RUN (or ``--checkpoint``) into DIR via a temporary folder,
    so a failed export leaves no half-written DIR."""
    from glow_tts import args as cli
    from glow_tts.checkpoint import (checkpoint_step, load_checkpoint_dict, load_newest_checkpoint,
                                     load_weights)
    from glow_tts.hparams import get_hparams_from_dir
    from glow_tts.models import build_model

    model_dir = cli.model_dir_of(args.model)
    if not os.path.isdir(model_dir):
        raise ExportError(f"-m {args.model}: no such run directory ({model_dir}); train first or "
                          f"give the run's folder")
    if args.checkpoint is not None and not os.path.isfile(args.checkpoint):
        raise ExportError(f"--checkpoint {args.checkpoint}: no such file")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ExportError(f"--out {args.out} is a file; give a folder")
    if os.path.isdir(args.out) and os.listdir(args.out):
        raise ExportError(f"--out {args.out} is not empty; give a new or empty folder "
                          f"(an export never overwrites files)")
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        raise ExportError(f"no config.json in {model_dir}: not a training run folder")
    checkpoint = args.checkpoint
    if checkpoint is None:
        checkpoint, state = load_newest_checkpoint(model_dir)   # skips a corrupt newest one
        if checkpoint is None:
            raise ExportError(f"no G_<step>.pth checkpoint in {model_dir}; train first "
                              f"(python -m glow_tts train -c CONFIG -m {args.model})")
    else:
        state = load_checkpoint_dict(checkpoint)
    # As inference.load_model (not imported: inference imports this module for its backend).
    hps = get_hparams_from_dir(model_dir)
    model = build_model(hps)
    load_weights(model, state["model"], checkpoint)   # CheckpointError if it does not fit
    model.eval()
    model.store_inverse()
    if getattr(model, "n_speakers", 0) > 1:
        raise ExportError("multi-speaker models (n_speakers > 1) cannot be exported yet")
    source = {"run": os.path.abspath(model_dir), "checkpoint": os.path.basename(checkpoint),
              "step": checkpoint_step(checkpoint)}
    parent = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        export_model(model, hps, tmp, source)
        if os.path.isdir(args.out):
            os.rmdir(args.out)  # empty, checked above
        os.replace(tmp, args.out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name in (ENCODER_FILE, DECODER_FILE, MANIFEST_FILE):
        path = os.path.join(args.out, name)
        print(f"{path}\t{os.path.getsize(path) / 1e6:.2f} MB")
    return 0

