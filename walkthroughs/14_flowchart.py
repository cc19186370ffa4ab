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
# # The whole of `train.py` in one picture
#
# *Reviews:* the original `train.py` from top to bottom: `main`, `train_and_eval`,
# `train`, `evaluate`. Ours: `glow_tts/train.py` (`main`, `train_and_eval`, `train`,
# `evaluate`, and their helpers `resume` and `save`), with launching in
# `glow_tts/distributed.py` (`launch`, `spawn_with_free_port`) and the loader in
# `glow_tts/data_utils.py` (`build_train_loader`).
#
# You will learn the path from the command line to a saved checkpoint: every function
# called on the way, in order, and the tensors that flow between them, drawn as one
# diagram. The diagram is not a drawing made by hand: it is generated from a list of steps,
# and the asserts check that list against the code (each name exists, the signatures are
# the ones shown, and the calls appear in the code in the order drawn).
#
# covers: T30

# %%
import contextlib
import functools
import inspect
import io

import glow_tts.fonts.register  # noqa: F401  (NanumGothic for Hangul in figure labels)
import matplotlib.pyplot as plt
import torch
import torch.distributed
import torch.multiprocessing
import torch.nn.parallel
import torch.utils.data
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

import glow_tts
import glow_tts.checkpoint
import glow_tts.commons
import glow_tts.data_utils
import glow_tts.distributed
import glow_tts.hparams
import glow_tts.models
import glow_tts.train
import glow_tts.utils
from glow_tts import distributed as D
from glow_tts import train as T
from glow_tts.data_utils import build_train_loader
from glow_tts.models import build_model

# %% [markdown]
# ## The steps
#
# Each step: its column (① launching, the same in every process; ② building data and
# model; ③ the loop), the label drawn, the names it uses (checked to exist), and where it
# sits in the code: `(function, text)` pairs, which must appear in that function's source
# in the order listed.
#
# The shapes are those of walkthrough 05: `x` `[B, T_x]` int64, `x_lengths` `[B]`,
# `y` `[B, 80, T_y]` float32, `y_lengths` `[B]`.

# %%
STEPS = [
    # ① launching
    (0, "명령줄\npython -m glow_tts train -c CONFIG -m NAME",
     ["glow_tts.train.main", "glow_tts.args.add_train_arguments"], []),
    (0, "main -> load_hparams(-c, -m) -> hps (HParams);\ncheck_run; model_dir/config.json",
     ["glow_tts.hparams.load_hparams", "glow_tts.checkpoint.check_run"],
     [(T.main, "load_hparams("), (T.main, "check_run("), (T.main, "save_run_config(")]),
    (0, "MASTER_ADDR / MASTER_PORT\nmp.spawn(train_and_eval, nprocs, args=(n_gpus, hps))",
     ["glow_tts.distributed.spawn_with_free_port", "torch.multiprocessing.spawn"],
     [(T.main, "distributed.launch("), (D.launch, "spawn_with_free_port("),
      (D.spawn_with_free_port, "MASTER_ADDR"), (D.spawn_with_free_port, "MASTER_PORT"),
      (D.spawn_with_free_port, "mp.spawn(")]),
    (0, "train_and_eval(rank, n_gpus, hps)\n(rank: 프로세스 번호, spawn이 첫 인자로 전달)",
     ["glow_tts.train.train_and_eval"], []),
    (0, "rank 0만: get_logger, check_git_hash,\nSummaryWriter(model_dir), SummaryWriter(model_dir/eval)",
     ["glow_tts.utils.get_logger", "glow_tts.utils.check_git_hash"],
     [(T.train_and_eval, "if rank == 0:"), (T.train_and_eval, "get_logger("),
      (T.train_and_eval, "check_git_hash("), (T.train_and_eval, "SummaryWriter(log_dir=hps.model_dir)"),
      (T.train_and_eval, "SummaryWriter(log_dir=os.path.join(hps.model_dir, \"eval\"))")]),
    (0, "torch.cuda.set_device(device)  (GPU만)",
     ["torch.cuda.set_device"], [(T.train_and_eval, "torch.cuda.set_device(")]),
    (0, "dist.init_process_group(backend, 'env://',\nworld_size, rank)  (world_size > 1)",
     ["torch.distributed.init_process_group"], [(T.train_and_eval, "dist.init_process_group(")]),
    (0, "torch.manual_seed(seed)\n(모든 rank가 같은 seed: 같은 초기 가중치)",
     ["torch.manual_seed"], [(T.train_and_eval, "torch.manual_seed(")]),
    # ② data and model
    (1, "TextMelLoader(training_files, hps.data)\n[i] -> (text [T_x], mel [80, T_y])",
     ["glow_tts.data_utils.TextMelLoader"], [(T.train_and_eval, "TextMelLoader(hps.data.training_files")]),
    (1, "DistributedSampler(dataset, num_replicas,\nrank, shuffle=True)",
     ["torch.utils.data.distributed.DistributedSampler", "glow_tts.data_utils.build_train_loader"],
     [(T.train_and_eval, "build_train_loader("), (build_train_loader, "DistributedSampler(")]),
    (1, "DataLoader(batch_size, drop_last=True, sampler,\ncollate_fn=TextMelCollate(1))",
     ["torch.utils.data.DataLoader", "glow_tts.data_utils.TextMelCollate"],
     [(build_train_loader, "DataLoader("), (build_train_loader, "TextMelCollate(1)")]),
    (1, "rank 0만: 검증용 TextMelLoader + DataLoader",
     [], [(T.train_and_eval, "TextMelLoader(hps.data.validation_files")]),
    (1, "build_model(hps): FlowGenerator(n_vocab,\nout_channels=80, **hps.model)",
     ["glow_tts.models.FlowGenerator", "glow_tts.models.build_model"],
     [(T.train_and_eval, "build_model("), (build_model, "FlowGenerator")]),
    (1, "commons.Adam(parameters, noam, dim_model,\nwarmup_steps, lr, betas, eps)",
     ["glow_tts.commons.Adam"], [(T.train_and_eval, "commons.Adam(")]),
    (1, "resume: 최신 G_*.pth 불러오기\n없으면 ddi_G.pth (init.py의 결과)",
     ["glow_tts.train.resume", "glow_tts.checkpoint.load_newest_checkpoint",
      "glow_tts.checkpoint.load_checkpoint_dict"],
     [(T.train_and_eval, "resume("), (T.resume, "load_newest_checkpoint("), (T.resume, "ddi_G.pth")]),
    (1, "DDP(generator)  (world_size > 1)",
     ["torch.nn.parallel.DistributedDataParallel"], [(T.train_and_eval, "DDP(generator")]),
    # ③ the loop
    (2, "for epoch in range(epoch_str, epochs + 1)", [], [(T.train_and_eval, "for epoch in range(")]),
    (2, "train(rank, epoch, …):\nsampler.set_epoch(epoch); generator.train()",
     ["glow_tts.train.train"],
     [(T.train_and_eval, "train(rank, epoch"), (T.train, "sampler.set_epoch(epoch)"),
      (T.train, "generator.train()")]),
    (2, "for batch_idx, (x [B,T_x], x_lengths [B],\ny [B,80,T_y], y_lengths [B])",
     [], [(T.train, "for batch_idx, (x, x_lengths, y, y_lengths) in enumerate(train_loader")]),
    (2, "generator(x, x_lengths, y, y_lengths, gen=False)\n-> (z, z_m, z_logs, logdet, z_mask),"
        "\n(x_m, x_logs, x_mask), (attn, logw, logw_)",
     [], [(T.train, "generator(x, x_lengths, y, y_lengths, gen=False)")]),
    (2, "l_mle = mle_loss(z, z_m, z_logs, logdet, z_mask)\nl_length = duration_loss(logw, logw_, x_lengths)",
     ["glow_tts.commons.mle_loss", "glow_tts.commons.duration_loss"],
     [(T.train, "commons.mle_loss("), (T.train, "commons.duration_loss(")]),
    (2, "loss_g.backward()\nclip_grad_value_(parameters, 5); optimizer_g.step()",
     ["glow_tts.commons.clip_grad_value_"],
     [(T.train, "loss_g.backward()"), (T.train, "commons.clip_grad_value_("), (T.train, "optimizer_g.step()")]),
    (2, "rank 0, log_interval마다: module(x[:1], x_lengths[:1],\ngen=True) -> y_gen; utils.summarize(writer)",
     ["glow_tts.train.unwrap", "glow_tts.utils.summarize"],
     [(T.train, "log_interval"), (T.train, "unwrap(generator)"),
      (T.train, "gen=True"), (T.train, "utils.summarize(")]),
    (2, "evaluate (rank 0): eval(), no_grad,\n검증 손실 -> writer_eval",
     ["glow_tts.train.evaluate"],
     [(T.train_and_eval, "evaluate(rank, epoch"), (T.evaluate, "generator.eval()"),
      (T.evaluate, "torch.no_grad()"), (T.evaluate, "writer=writer_eval")]),
    (2, "save_checkpoint -> model_dir/G_{step}.pth",
     ["glow_tts.train.save", "glow_tts.checkpoint.save_checkpoint"],
     [(T.train_and_eval, "save(hps"), (T.save, "save_checkpoint(")]),
]
len(STEPS)

# %% [markdown]
# ## The picture
#
# Solid arrows: one step leads to the next. The two curved arrows on the right are the
# loops: every batch goes back to the `for batch_idx` line, every epoch back to
# `for epoch`.

# %%
COLUMN_TITLES = ["① 시작: 프로세스마다", "② 데이터와 모델 만들기", "③ 학습 루프"]
COLUMN_COLORS = ["#dbe9f6", "#e3f1df", "#fbe5d6"]
BOX_W, BOX_H, ROW_H, COL_W = 4.6, 0.78, 1.0, 5.4

fig, ax = plt.subplots(figsize=(17, 11))
rows = [0, 0, 0]
centers = []
for column, label, _names, _anchors in STEPS:
    x, y = column * COL_W, -rows[column] * ROW_H
    rows[column] += 1
    ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
                                boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=COLUMN_COLORS[column], edgecolor="0.35"))
    ax.text(x, y, label, ha="center", va="center", fontsize=9, family="monospace"
            if label.startswith("for ") else None)
    centers.append((x, y))


def arrow(a, b, **style):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, color="0.25",
                                 shrinkA=0, shrinkB=0, **style))


for i in range(len(STEPS) - 1):
    (x0, y0), (x1, y1) = centers[i], centers[i + 1]
    if STEPS[i][0] == STEPS[i + 1][0]:
        arrow((x0, y0 - BOX_H / 2), (x1, y1 + BOX_H / 2))
    else:                                   # to the top of the next column
        arrow((x0 + BOX_W / 2, y0), (x1 - BOX_W / 2, y1 + BOX_H / 4), connectionstyle="arc3,rad=0.15")

loop_batch = [i for i, s in enumerate(STEPS) if s[1].startswith("for batch_idx")][0]
loop_epoch = [i for i, s in enumerate(STEPS) if s[1].startswith("for epoch")][0]
sample_step = [i for i, s in enumerate(STEPS) if "gen=True" in s[1]][0]
last = len(STEPS) - 1
for start, end, text in ((sample_step, loop_batch, "다음 배치"), (last, loop_epoch, "다음 epoch")):
    (x0, y0), (x1, y1) = centers[start], centers[end]
    arrow((x0 + BOX_W / 2, y0), (x1 + BOX_W / 2, y1), connectionstyle="arc3,rad=0.35",
          linestyle="--")
    ax.text(x0 + BOX_W / 2 + 0.25 + 0.9 * (end == loop_epoch), (y0 + y1) / 2, text, fontsize=9,
            color="0.25", rotation=90, va="center")

for column, title in enumerate(COLUMN_TITLES):
    ax.text(column * COL_W, 0.85, title, ha="center", fontsize=12, weight="bold")
ax.set_xlim(-COL_W / 2, 2 * COL_W + COL_W / 2 + 1.4)
ax.set_ylim(-max(rows) * ROW_H + 0.2, 1.3)
ax.axis("off")
ax.set_title("Glow-TTS train.py: 명령줄에서 체크포인트까지", fontsize=14)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The chart against the code
#
# Every name the chart uses exists, in `glow_tts` or in PyTorch:

# %%
def resolve(dotted):
    module_name, *rest = dotted.split(".")
    root = {"glow_tts": glow_tts, "torch": torch}[module_name]
    return functools.reduce(getattr, rest, root)


names = sorted({name for _, _, step_names, _ in STEPS for name in step_names})
missing = []
for name in names:
    try:
        resolve(name)
    except AttributeError:
        missing.append(name)
print(len(names), "names checked; missing:", missing)

# %%
assert not missing
assert all(callable(resolve(name)) for name in names)
assert len(STEPS) >= 20 and {c for c, *_ in STEPS} == {0, 1, 2}

# %% [markdown]
# The signatures drawn are the real ones. `train_and_eval(rank, n_gpus, hps)` is the
# original's: the process index first (what `mp.spawn` passes), then the `args` tuple.
# `train` and `evaluate` keep the original's eight arguments and add one, `run`, the
# per-process bookkeeping the original kept in globals.

# %%
parameters = lambda f: list(inspect.signature(f).parameters)  # noqa: E731
print(parameters(T.train_and_eval), parameters(T.train), parameters(T.evaluate), sep="\n")

# %%
assert parameters(T.train_and_eval)[:3] == ["rank", "n_gpus", "hps"]
original_train = ["rank", "epoch", "hps", "generator", "optimizer_g", "train_loader", "logger", "writer"]
assert parameters(T.train)[:8] == original_train
assert parameters(T.evaluate)[:8] == ["rank", "epoch", "hps", "generator", "optimizer_g", "val_loader",
                                      "logger", "writer_eval"]
assert parameters(glow_tts.models.FlowGenerator.forward)[:7] == ["self", "x", "x_lengths", "y", "y_lengths",
                                                                   "g", "gen"]

# %% [markdown]
# The order: within each function, the texts of the chart's steps are searched one after
# the other in its source, each after the previous one. A call that moved in the code
# would break this cell, not silently leave the chart wrong.

# %%
sources = {}
positions = {}
for _, label, _, anchors in STEPS:
    for function, text in anchors:
        source = sources.setdefault(function, inspect.getsource(function))
        start = positions.get(function, 0)
        found = source.find(text, start)
        assert found >= 0, f"{function.__name__}: {text!r} not found after position {start} (chart step {label!r})"
        positions[function] = found + len(text)
print({f.__name__: p for f, p in positions.items()})

# %%
# ten functions: main, launch, spawn_with_free_port, train_and_eval, build_train_loader,
# build_model, resume, train, evaluate, save
assert len(positions) == 10
# The command line: `main` parses -c/-m as drawn.
help_text = io.StringIO()
with contextlib.redirect_stdout(help_text), contextlib.suppress(SystemExit):
    T.main(["--help"])
assert "-c CONFIG" in help_text.getvalue() and "-m MODEL" in help_text.getvalue()

# %% [markdown]
# ## Where ours departs from the original, on this chart
#
# | step | original | ours | why |
# |---|---|---|---|
# | `MASTER_PORT` | `'80000'` | a free port | 80000 is not a TCP port; torch 2.x rejects it (walkthrough 10) |
# | backend | always `nccl` | `nccl` on GPU, `gloo` on CPU | NCCL is GPU-only |
# | `init_process_group` | always | only when `world_size > 1` | one process needs no group |
# | `set_device` | after `init_process_group` | before it (GPU only) | NCCL then binds each process to its own GPU |
# | loading vs `DDP` | `DDP`, then load into it | load, then `DDP` | DDP copies rank 0's weights to the others when it wraps |
# | resume | bare `except:`; step count lost | newest loadable `G_*.pth`, optimizer step, RNG | exact resume (walkthroughs 09, 11) |
# | gen sample | train mode, autograd on, `batch_idx % log_interval` | eval mode, `inference_mode`, global step | walkthrough 12 |
# | checkpoint | `G_{epoch}.pth` every epoch | `G_{step}.pth` every `checkpoint_interval` and at epoch end | steps are comparable across batch sizes |
#
# > **The notes** (§3) describe the flow of `train.py` in one line and leave the chart
# > itself to an image. The figure above is the flow checked against the code it
# > describes: rerun this page after changing `train.py` and it either still holds or
# > says which step moved.

# %%
ours_loads_first = sources[T.train_and_eval].find("resume(") < \
    sources[T.train_and_eval].find("DDP(generator")
assert ours_loads_first
