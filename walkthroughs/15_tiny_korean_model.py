# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A tiny Korean Glow-TTS, end to end: watching the alignment form
#
# *Reviews:* the whole pipeline of the original: `init.py` `main` (DDI), `train.py`
# `train_and_eval` / `train` / `evaluate`, and `inference.ipynb`. Ours:
# `glow_tts.corpus.build_corpus`, `glow_tts.init.run_ddi`, `glow_tts.train.train_and_eval`,
# `glow_tts.inference.synthesize`, `glow_tts.quality`. (`python -m glow_tts demo` runs the
# same stages in one command.)
#
# You will learn:
#
# * what it takes to train a Glow-TTS from nothing on a CPU: the embedded Korean corpus,
#   the tiny config, DDI, then `train_and_eval`;
# * how the alignment between text and speech, found by MAS at every step, goes from
#   arbitrary to a clean diagonal staircase as the model learns;
# * what the loss curves look like, and how to tell that the model learned something
#   without listening (duration error, mel error against a trivial baseline);
# * what the result sounds like, on sentences it never saw.
#
# The book runs this page in full (the config's `train.max_steps`, a few minutes on a
# laptop CPU);
# the tests run a shortened version (`GLOW_TTS_QUICK=1`) whose figures are weaker but
# whose checks still fail for a model that did not learn.
#
# covers: T38

# %%
import json
import os
import tempfile
import time

import glow_tts.fonts.register  # noqa: F401  (Hangul font: titles quote Korean)
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Audio, display
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
from glow_tts import quality
from glow_tts.audio import load_wav
from glow_tts.checkpoint import load_checkpoint
from glow_tts.corpus import build_corpus
from glow_tts.data_utils import load_filepaths_and_text
from glow_tts.hparams import get_hparams_from_file
from glow_tts.inference import synthesize, text_to_ids
from glow_tts.models import build_model
from glow_tts.init import run_ddi
from glow_tts.train import train_and_eval

QUICK = os.environ.get("GLOW_TTS_QUICK") == "1"
# one thread: the fastest on a shared 2-core machine, and reproducible
torch.set_num_threads(1)
t_start = time.perf_counter()

# %% [markdown]
# ## The data: the embedded Korean corpus
#
# Three hundred and fifty-odd Korean sentences written for this project, spoken by
# eSpeak NG at 22,050 Hz and laid out like the KSS corpus, split into training,
# validation and test lists (walkthrough 04). The voice is robotic but perfectly
# consistent, which is what lets a small model find the alignment in minutes.

# %%
work = tempfile.mkdtemp(prefix="glow_tts_15_")
corpus = build_corpus(os.path.join(work, "corpus"), progress=False)
print(corpus)

hps = get_hparams_from_file("../configs/tiny.json")
hps.data.training_files = corpus.filelists["train"]
hps.data.validation_files = corpus.filelists["val"]
hps.train.use_cuda = False
hps.train.log_interval = 50
hps.model_dir = os.path.join(work, "run")
os.makedirs(hps.model_dir)
# [[wav path, text], ...], never trained on
test_items = load_filepaths_and_text(corpus.filelists["test"])

# %%
assert corpus.counts["train"] > 300 and corpus.counts["test"] >= 10
train_paths = {p for p, _ in load_filepaths_and_text(corpus.filelists["train"])}
assert not {p for p, _ in test_items} & train_paths

# %% [markdown]
# ## The model and its starting point
#
# `configs/tiny.json`: the architecture of the original, narrowed (64 channels instead of
# 192, fewer encoder layers and flow blocks, batches of 8): about a million parameters.
# `run_ddi` performs the data-dependent initialisation of walkthrough 08 and
# writes `ddi_G.pth`, which `train_and_eval` starts from.
#
# Training runs in chunks: `train.max_steps` is raised, and `train_and_eval` called
# again. Each call resumes from the newest checkpoint, with the optimizer's step count
# and every random state, so the chunks add up to one uninterrupted run (the training
# tests check this bit for bit). Between chunks we take a snapshot of the alignment.

# %%
SNAPSHOTS = [0, 20, 60, 120] if QUICK else [0, 25, 50, 100, 200, hps.train.max_steps]
hps.train.checkpoint_interval = 10 ** 6      # checkpoints only at the end of each chunk
ddi_path = run_ddi(hps)
untrained = build_model(hps)
load_checkpoint(ddi_path, untrained)
n_params = sum(p.numel() for p in untrained.parameters())
print(f"{n_params:,} parameters; {hps.model.n_layers_enc} encoder layers, "
      f"{hps.model.n_blocks_dec} flow blocks, batch {hps.train.batch_size}; "
      f"snapshots at steps {SNAPSHOTS}")
assert 0.5e6 < n_params < 2e6

# %% [markdown]
# ## The alignment of a held-out sentence
#
# The alignment is what MAS (walkthrough 07) finds for a pair of text and recorded mel:
# for each mel frame, the token it belongs to. We run the model's training forward pass
# (`gen=False`) on a **test** sentence and its eSpeak recording and keep `attn`
# `[T_x, T_y]`.
#
# A number for "how diagonal": token index against frame index, both scaled to $[0, 1]$;
# a perfectly even speaker would put every frame $j$ on token $i(j) \approx j \cdot T_x / T_y$.
# The mean distance $\frac{1}{T_y}\sum_j \left| \frac{i(j)}{T_x - 1} - \frac{j}{T_y - 1} \right|$
# is 0 for a straight diagonal and about $1/3$ for an alignment that parks most frames
# on a few tokens at one end.

# %%
def alignment(model, path, text):
    """MAS alignment [T_x, T_y] of a text and its recording, and its distance from
    the diagonal."""
    x = text_to_ids(text, hps).unsqueeze(0)                               # [1, T_x]
    y = torch.from_numpy(quality.real_mel(path, hps.data)).unsqueeze(0)   # [1, 80, T_y]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        *_, (attn, _, _) = model(x, torch.LongTensor([x.shape[1]]),
                                 y, torch.LongTensor([y.shape[2]]))
    model.train(was_training)
    attn = attn[0, 0]                                                      # [T_x, T_y]
    t_x, t_y = attn.shape
    token_of_frame = attn.argmax(0).float()
    offset = token_of_frame / (t_x - 1) - torch.arange(t_y) / (t_y - 1)
    distance = offset.abs().mean().item()
    return attn.numpy(), distance


def mean_distance(model, items):
    return float(np.mean([alignment(model, p, t)[1] for p, t in items]))


watch_path, watch_text = test_items[0]
snapshots = {0: alignment(untrained, watch_path, watch_text)}
distances = {0: mean_distance(untrained, test_items[:6])}
print(watch_text, "| distance from the diagonal at step 0:", round(distances[0], 3))

# %% [markdown]
# ## Training
#
# `train_and_eval(0, 1, hps)`: rank 0 of one process, as `python -m glow_tts train` runs
# it on a CPU. Its `on_step` callback receives each step's number and losses; we keep
# them as a list of `[step, l_mle, l_length]`.

# %%
losses = []
for target in SNAPSHOTS[1:]:
    hps.train.max_steps = target
    result = train_and_eval(0, 1, hps,
                            on_step=lambda step, l, _: losses.append([step, *l]))
    model = result["generator"]
    snapshots[target] = alignment(model, watch_path, watch_text)
    distances[target] = mean_distance(model, test_items[:6])
    print(f"step {target}: loss {sum(losses[-1][1:]):.3f}, "
          f"distance from the diagonal {distances[target]:.3f}, "
          f"{time.perf_counter() - t_start:.0f} s")

# %%
steps = [s for s, _, _ in losses]
# the chunks add up to one run
assert steps == list(range(1, SNAPSHOTS[-1] + 1))
assert result["global_step"] == SNAPSHOTS[-1]

# %% [markdown]
# ## The alignment forming
#
# Left to right: the MAS alignment of the same held-out sentence at each snapshot. At
# first the model's priors barely depend on the text, and the best monotonic path is
# arbitrary. As the encoder learns what each jamo sounds like, the path settles into a
# staircase along the diagonal: each token owns a run of frames, in order.

# %% tags=["plot"]
n_cols = 3 if len(snapshots) > 4 else len(snapshots)
n_rows = -(-len(snapshots) // n_cols)
fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.0 * n_rows + 0.4),
                         squeeze=False)
for ax, (step, (attn, distance)) in zip(axes.flat, snapshots.items()):
    ax.imshow(attn, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest")
    ax.set_title(figures.both(f"step {step} (distance from the diagonal {distance:.3f})",
                              f"스텝 {step} (대각선과의 거리 {distance:.3f})", sep="\n"),
                 family=figures.BILINGUAL)
    ax.set_xlabel(figures.both("mel frame", "멜 프레임"), family=figures.BILINGUAL)
    ax.set_ylabel(figures.both("token (jamo)", "토큰 (자모)"), family=figures.BILINGUAL)
fig.suptitle(f"{figures.both('alignment of a test sentence', '테스트 문장의 정렬')}: "
             f"{watch_text}", family=figures.BILINGUAL)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The losses
#
# The training losses of every step, and the validation losses that `evaluate` wrote to
# the `eval/` TensorBoard log at the end of each chunk (and of each epoch). `l_mle` is the
# negative log-likelihood per mel value (walkthrough 07): it keeps falling as the flow and
# the priors improve; `l_length`, the squared error of the log-durations, drops fast
# once the alignment is stable.

# %%
_, l_mle, l_length = map(np.array, zip(*losses))
events = EventAccumulator(os.path.join(hps.model_dir, "eval")).Reload()
eval_mle = [(e.step, e.value) for e in events.Scalars("loss/g/0")]
eval_dur = [(e.step, e.value) for e in events.Scalars("loss/g/1")]

# %% tags=["plot"]
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(steps, l_mle, lw=0.8, label=figures.both("training", "학습") + " l_mle")
ax.plot(steps, l_length, lw=0.8, label=figures.both("training", "학습") + " l_length")
ax.plot(*zip(*eval_mle), "o-", label=figures.both("validation", "검증") + " l_mle")
ax.plot(*zip(*eval_dur), "s-", label=figures.both("validation", "검증") + " l_length")
ax.set_xlabel(figures.both("step", "스텝"), family=figures.BILINGUAL)
ax.set_ylabel(figures.both("loss", "손실"), family=figures.BILINGUAL)
ax.set_title(figures.both("losses of the tiny model", "작은 모델의 손실"),
             family=figures.BILINGUAL)
ax.legend(prop={"family": figures.BILINGUAL})
fig.tight_layout()
plt.show()

# %%
window = 10
# the likelihood improved
assert l_mle[-window:].mean() < l_mle[:window].mean() - 0.3
assert l_length[-window:].mean() < l_length[:window].mean()
assert eval_mle[-1][1] < eval_mle[0][1] and eval_mle[-1][0] == SNAPSHOTS[-1]

# %% [markdown]
# ## Did it learn? Two numbers on the test sentences
#
# `glow_tts.quality` compares the model's output on the held-out sentences with their
# recordings:
#
# * **duration error**: $|T_\text{pred} - T_\text{real}|$ summed over sentences, divided by the
#   real total: does the model speak each sentence for the right length of time?
# * **mel error ratio**: the mean absolute log-mel difference between synthesized and
#   real mels (after dynamic time warping, so a slightly different pace is not punished),
#   divided by that of a trivial baseline that always outputs the average training frame.
#   Below 1 means closer to the truth than "always the average sound".
#
# The same numbers for the untrained (DDI) model are the reference.

# %%
trained = model.eval()
trained.store_inverse()
mean_frame = quality.training_mean_mel(hps.data, corpus.filelists["train"])
test_list = corpus.filelists["test"]
before = quality.evaluate_filelist(untrained.eval(), hps, test_list, mean_frame)
after = quality.evaluate_filelist(trained, hps, test_list, mean_frame)
for name in ("duration_error", "mel_ratio"):
    print(f"{name}: untrained {before[name]:.3f} -> trained {after[name]:.3f}")
print("distance from the diagonal:", {s: round(d, 3) for s, d in distances.items()})

# %% [markdown]
# The checks: every number improved, by margins an untrained or broken model cannot reach.

# %%
# The untrained model's numbers are printed above (duration error near 0.8, mel ratio
# above 1, distance near 0.15); each bound is both absolute and relative to them.
if QUICK:   # 120 steps: the diagonal is there, the durations are still rough
    assert after["duration_error"] < min(0.45, 0.6 * before["duration_error"])
    assert after["mel_ratio"] < min(0.85, before["mel_ratio"] - 0.2)
    # a diagonal formed
    assert distances[SNAPSHOTS[-1]] < min(0.09, 0.6 * distances[0])
else:
    assert after["duration_error"] < min(0.15, 0.3 * before["duration_error"])
    assert after["mel_ratio"] < min(0.5, before["mel_ratio"] - 0.5)
    assert distances[SNAPSHOTS[-1]] < min(0.06, 0.5 * distances[0])
final_attn = snapshots[SNAPSHOTS[-1]][0]
# monotonic, one token per frame
assert np.all(np.diff(final_attn.argmax(0)) >= 0) and np.all(final_attn.sum(0) == 1)

# %% [markdown]
# ## Listening
#
# Three test sentences, synthesized (`noise_scale = 0.333`) and turned into sound with
# Griffin-Lim, each followed by its eSpeak recording. Expect a buzzy, smeared voice:
# a million parameters, a few minutes of training and no neural vocoder. The rhythm and
# the vowels should follow the text.

# %%
fig, axes = plt.subplots(3, 2, figsize=(11, 6.5))
for row, (path, text) in enumerate(test_items[:3]):
    # mel [80, F], wav [T]
    out = synthesize(trained, hps, text, noise_scale=0.333)
    real = quality.real_mel(path, hps.data)
    print(text)
    display(Audio(out["wav"].numpy(), rate=hps.data.sampling_rate))
    sr = hps.data.sampling_rate
    display(Audio(load_wav(path, sr).numpy(), rate=sr))
    for ax, image in ((axes[row, 0], out["mel"].numpy()), (axes[row, 1], real)):
        ax.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=-11.5, vmax=2)

    axes[row, 0].set_title(f"{figures.both('synthesized', '합성')}: {text}", fontsize=9,
                           family=figures.BILINGUAL)
    axes[row, 1].set_title(figures.both("eSpeak recording", "eSpeak 녹음"), fontsize=9,
                           family=figures.BILINGUAL)
    assert out["wav"].numel() == (out["mel"].shape[1] - 1) * hps.data.hop_length
    low, high = (0.4, 1.8) if QUICK else (0.6, 1.5)
    # about the right length
    assert low < out["mel"].shape[1] / real.shape[1] < high
fig.tight_layout()
plt.show()
print(f"total {time.perf_counter() - t_start:.0f} s")

# %% [markdown]
# ## The model in the browser
#
# To hear this very model say sentences you type, open
# [Try it: hear the book's model](../try_it.md): it runs in the reader's browser.
#
# The cell below exports it with `glow_tts.export.export_model`: two ONNX graphs (the
# encoder with the durations, and the decoder) and `export.json`, plus `run.json` with
# the numbers above, which the page shows. When the book is built,
# `GLOW_TTS_BOOK_ARTIFACTS` names a folder that the build keeps with this page and copies
# to the Try it page; elsewhere the export goes to the temporary folder. The check: for a
# test sentence, onnxruntime gives PyTorch's mel (within 1e-4, noise 0) and the same
# durations.

# %%
from glow_tts.export import OnnxSynthesizer, export_model
from glow_tts.inference import MAX_TOKENS

artifacts = os.environ.get("GLOW_TTS_BOOK_ARTIFACTS") or work   # set by the book build
export_dir = os.path.join(artifacts, "tryit_model")
os.makedirs(export_dir, exist_ok=True)
source = {"config": "configs/tiny.json", "walkthrough": "15_tiny_korean_model"}
manifest = export_model(trained, hps, export_dir, source=source)
run_info = {"steps": SNAPSHOTS[-1], "quick": QUICK,
            "duration_error": round(after["duration_error"], 4),
            "mel_ratio": round(after["mel_ratio"], 4),
            "max_tokens": MAX_TOKENS, "config": "configs/tiny.json",
            "data": hps.data.to_dict()}
with open(os.path.join(export_dir, "run.json"), "w", encoding="utf-8") as f:
    json.dump(run_info, f, ensure_ascii=False, indent=1)

onnx_model = OnnxSynthesizer(export_dir, threads=1)
check_text = test_items[1][1]
ids = text_to_ids(check_text, hps).unsqueeze(0)
lengths = torch.LongTensor([ids.shape[1]])
onnx_out = onnx_model.run(ids.numpy(), lengths.numpy(), noise_scale=0.0)
torch_out = trained.infer(ids, lengths, noise_scale=0.0)
mel_gap = float(np.abs(onnx_out["mel"] - torch_out.mel.numpy()).max())
print(check_text)
print(f"{sorted(os.listdir(export_dir))}; {ids.shape[1]} tokens, "
      f"{int(onnx_out['mel_lengths'][0])} frames; largest mel difference {mel_gap:.1e}")

# %%
# the exported graphs compute the PyTorch model's mel and durations
assert np.array_equal(onnx_out["durations"], torch_out.durations.numpy())
assert onnx_out["mel"].shape == tuple(torch_out.mel.shape) and mel_gap < 1e-4

# %% [markdown]
# The run folder (`hps.model_dir`) holds the checkpoints, `train.log` and the TensorBoard
# logs (`tensorboard --logdir` on it shows the same curves, the logged spectrograms and
# alignments, and the samples' audio). It lives in a temporary folder, removed here so
# that repeated runs do not fill the disk; set `KEEP = True` to keep it.

# %%
import shutil

KEEP = False
if not KEEP:
    shutil.rmtree(work, ignore_errors=True)

