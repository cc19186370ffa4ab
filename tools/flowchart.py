"""Draw the flowchart of the original train.py (command line → checkpoint) as an SVG.

tools/build_book.py calls `write_if_stale()` before mdBook runs; the figure lands in
chapters/figures/train_flowchart.svg (generated, not committed). Text is stored as paths,
so the SVG needs no font in the browser. The Korean edition gets its own drawing
(`write_if_stale(out, "ko")`): the same boxes and code, with the word labels (column
notes, box titles, arrows, legend) in Korean, set in the bundled Hangul font
(glow_tts.fonts). Run it alone to look at the figure:

    python tools/flowchart.py [out.svg] [en|ko]
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "chapters" / "figures" / "train_flowchart.svg"

# (column, title, lines, colour). Each column is a process or a function; boxes in a
# column run top to bottom in the order the code runs them.
LAUNCH, RANK, STEP = 0, 1, 2
COLUMN_TITLES = {
    LAUNCH: "python train.py -c configs/base.json -m kss\n(the parent process)",
    RANK: "train_and_eval(rank, n_gpus, hps)\n(one process per GPU, rank = 0 … n_gpus-1)",
    STEP: "train(rank, epoch, hps, generator, optimizer_g, …)\n(one epoch on every rank)",
}
PARENT, SETUP, DATA, MODEL, LOOP, SAVE = (
    "#e8f0fe", "#fef7e0", "#e6f4ea", "#fce8e6", "#f3e8fd", "#e0f7fa")

BOXES: list[tuple[int, str, list[str], str]] = [
    (LAUNCH, "main()", ["assert torch.cuda.is_available()",
                        "n_gpus = torch.cuda.device_count()"], PARENT),
    (LAUNCH, "rendezvous address", ["os.environ['MASTER_ADDR'] = 'localhost'",
                                    "os.environ['MASTER_PORT'] = '80000'",
                                    "(> 65535: ValueError since torch 1.11,",
                                    " TypeError from TCPStore in 1.10)"], PARENT),
    (LAUNCH, "hps = utils.get_hparams()", ["argparse -c config.json -m model_name",
                                           "json → HParams; hps.model_dir",
                                           "copies config.json into model_dir"], PARENT),
    (LAUNCH, "mp.spawn(train_and_eval,", ["    nprocs=n_gpus, args=(n_gpus, hps))",
                                          "fresh interpreter per process; index",
                                          "passed first: train_and_eval(i, …)",
                                          "join=True: parent waits; a child's error",
                                          "→ ProcessRaisedException (its traceback)"], PARENT),

    (RANK, "rank 0 only", ["logger = utils.get_logger(model_dir)",
                           "utils.check_git_hash(model_dir)",
                           "SummaryWriter(model_dir), (…/eval)"], SETUP),
    (RANK, "dist.init_process_group(", ["  'nccl', init_method='env://',",
                                        "  world_size=n_gpus, rank=rank)",
                                        "torch.manual_seed(hps.train.seed)",
                                        "torch.cuda.set_device(rank)"], SETUP),
    (RANK, "data", ["TextMelLoader(training_files, hps.data)",
                    "DistributedSampler(…, n_gpus, rank, shuffle=True)",
                    "DataLoader(batch_size=32, sampler=…, drop_last=True,",
                    "  collate_fn=TextMelCollate(1), num_workers=8,",
                    "  pin_memory=True)   (+ val_loader on rank 0)"], DATA),
    (RANK, "model and optimizer", ["FlowGenerator(n_vocab=len(symbols)+add_blank,",
                                   "  out_channels=80, **hps.model).cuda(rank)",
                                   "commons.Adam(…, scheduler='noam', dim_model=192)",
                                   "fp16_run: apex amp.initialize(opt_level='O1')",
                                   "generator = apex DDP(generator)"], MODEL),
    (RANK, "resume or start", ["try: load_checkpoint(latest G_*.pth)",
                               "     → epoch_str, step_num, global_step",
                               "except: if hps.train.ddi and ddi_G.pth exists:",
                               "  load_checkpoint(ddi_G.pth, generator,",
                               "                  optimizer_g)  (from init.py)"], MODEL),
    (RANK, "for epoch in range(epoch_str, epochs+1):", ["rank 0: train() → evaluate()",
                                                        "  → save_checkpoint(G_{epoch}.pth)",
                                                        "other ranks: train() only"], LOOP),
    (RANK, "checkpoint G_{epoch}.pth", ["{model, iteration (= epoch),",
                                        " optimizer, learning_rate}"], SAVE),

    (STEP, "train_loader.sampler.set_epoch(epoch)", ["generator.train()",
                                                     "for batch_idx, batch in …:"], LOOP),
    (STEP, "x, x_lengths, y, y_lengths", ["x [B, T_x] int64 token ids (padded)",
                                          "x_lengths [B] (sorted, descending)",
                                          "y [B, 80, T_y] float32 log-mel",
                                          "y_lengths [B] (in x's order)",
                                          ".cuda(rank, non_blocking=True)"], DATA),
    (STEP, "forward", ["optimizer_g.zero_grad()",
                       "(z, z_m, z_logs, logdet, z_mask),",
                       "(x_m, x_logs, x_mask), (attn, logw, logw_)",
                       "  = generator(x, x_lengths, y, y_lengths)"], MODEL),
    (STEP, "losses", ["l_mle = commons.mle_loss(z, z_m, z_logs,",
                      "                         logdet, z_mask)",
                      "l_length = commons.duration_loss(logw,",
                      "                         logw_, x_lengths)",
                      "loss_g = l_mle + l_length"], MODEL),
    (STEP, "backward and step", ["fp16_run (base.json: true):",
                                 "  with amp.scale_loss(loss_g, optim) as s:",
                                 "    s.backward()",
                                 "  clip_grad_value_(amp.master_params(optim), 5)",
                                 "else: loss_g.backward()",
                                 "  clip_grad_value_(generator.parameters(), 5)",
                                 "(apex DDP all-reduces the gradients)",
                                 "optimizer_g.step()  (then the Noam lr)"], MODEL),
    (STEP, "rank 0, batch_idx % log_interval == 0", [
        "generator.module(x[:1], x_lengths[:1], gen=True)",
        "logger.info(losses, global_step, lr)",
        "utils.summarize(y_org, y_gen, attn images)"], SETUP),
    (STEP, "global_step += 1", ["next batch; after the epoch:",
                                "evaluate() on rank 0 (no_grad)"], LOOP),
]


# The Korean edition's word labels (code stays as it is). Keys: the English labels above.
KOREAN = {
    "(the parent process)": "(부모 프로세스)",
    "(one process per GPU, rank = 0 … n_gpus-1)": "(GPU마다 프로세스 하나, rank = 0 … n_gpus-1)",
    "(one epoch on every rank)": "(모든 랭크에서 에폭 하나)",
    "rendezvous address": "랑데부 주소",
    "rank 0 only": "랭크 0만",
    "data": "데이터",
    "model and optimizer": "모델과 옵티마이저",
    "resume or start": "이어서 학습 또는 처음부터",
    "forward": "순전파",
    "losses": "손실",
    "backward and step": "역전파와 스텝",
    "next\nbatch": "다음\n배치",
    "epoch done": "에폭 끝",
    "legend": "색: 파랑 = 부모 프로세스 · 노랑 = 랭크별 준비와 로깅 · 초록 = 데이터 · "
              "빨강 = 모델과 최적화 · 보라 = 루프 · 청록 = 저장되는 파일",
}
LEGEND = ("Colours: blue = parent process · yellow = per-rank set-up and logging · "
          "green = data · red = model and optimisation · purple = loops · "
          "cyan = the file written")


def draw(out: Path, language: str = "en") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if language not in ("en", "ko"):
        raise ValueError(f"flowchart language must be en or ko, not {language!r}")
    words, mono = "DejaVu Sans", "DejaVu Sans Mono"
    if language == "ko":
        from glow_tts.fonts import register_hangul_font
        words = register_hangul_font()

    def say(text: str) -> str:
        return KOREAN.get(text, text) if language == "ko" else text

    def title_font(text: str) -> str:
        return words if say(text) != text else mono

    # the bundled Hangul font has one weight: bold would only make matplotlib complain
    bold = "normal" if language == "ko" else "bold"

    plt.rcParams["svg.hashsalt"] = "glow-tts-flowchart"  # stable ids: reproducible file
    column_x = {LAUNCH: 0.2, RANK: 6.0, STEP: 12.0}
    width = 5.4
    line_height = 0.30
    gap = 0.42
    # The longest column sets the figure's height (1 unit = 1 inch, so text keeps its size).
    bottom = min(-1.3 - sum(line_height * (len(lines) + 1) + 0.25 + gap
                            for c, _, lines, _ in BOXES if c == column) + gap
                 for column in column_x)
    legend_y = bottom - 0.45
    fig, ax = plt.subplots(figsize=(18.8, 0.4 - legend_y + 0.25))
    ax.set_xlim(0, 18.8)
    ax.set_ylim(legend_y - 0.25, 0.4)
    ax.axis("off")

    placed: dict[int, list[tuple[float, float, float]]] = {LAUNCH: [], RANK: [], STEP: []}
    cursor = {column: -1.3 for column in column_x}
    for column, title in COLUMN_TITLES.items():
        code, note = title.split("\n")
        ax.text(column_x[column] + width / 2, -0.35, f"{code}\n{say(note)}", ha="center",
                va="center", fontsize=10.5, fontweight=bold, family=words)
    for column, title, lines, colour in BOXES:
        height = line_height * (len(lines) + 1) + 0.25
        top = cursor[column]
        x = column_x[column]
        ax.add_patch(FancyBboxPatch((x, top - height), width, height,
                                    boxstyle="round,pad=0.02,rounding_size=0.12",
                                    facecolor=colour, edgecolor="#5f6368", linewidth=1.0))
        ax.text(x + 0.15, top - 0.22, say(title), ha="left", va="top", fontsize=9.5,
                fontweight=bold if say(title) != title else "bold", family=title_font(title))
        for number, line in enumerate(lines):
            ax.text(x + 0.15, top - 0.22 - line_height * (number + 1), line, ha="left",
                    va="top", fontsize=8.6, family="DejaVu Sans Mono")
        placed[column].append((x, top, height))
        cursor[column] = top - height - gap

    def arrow(start, end, colour="#3c4043", style="-|>", connection="arc3", dashed=False):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=14,
                                     color=colour, linewidth=1.3,
                                     linestyle="--" if dashed else "-",
                                     connectionstyle=connection))

    for column, boxes in placed.items():
        for (x, top, height), (_, next_top, _) in zip(boxes, boxes[1:]):
            arrow((x + width / 2, top - height), (x + width / 2, next_top))

    # mp.spawn → every rank's train_and_eval
    sx, stop, sheight = placed[LAUNCH][-1]
    rx, rtop, _ = placed[RANK][0]
    arrow((sx + width, stop - sheight / 2), (rx, rtop - 0.4), colour="#1a73e8")
    ax.text(sx + width + 0.05, stop - sheight / 2 - 0.35, "× n_gpus", fontsize=9,
            color="#1a73e8", family="DejaVu Sans")
    # the epoch loop calls train() …
    lx, ltop, lheight = placed[RANK][-2]
    tx, ttop, _ = placed[STEP][0]
    arrow((lx + width, ltop - 0.35), (tx, ttop - 0.35), colour="#9334e6")
    ax.text(lx + width + 0.12, ltop - 0.25, "train()", fontsize=9.5, color="#9334e6",
            family="DejaVu Sans Mono")
    # … the batch loop goes back to the next batch …
    bx, btop, bheight = placed[STEP][-1]
    first_x, first_top, first_height = placed[STEP][1]
    arrow((bx + width, btop - bheight / 2), (first_x + width, first_top - first_height / 2),
          colour="#9334e6", connection="bar,fraction=0.07", dashed=True)
    ax.text(bx + width + 0.75, (btop + first_top) / 2, say("next\nbatch"), fontsize=9.5,
            color="#9334e6", family=words, ha="left", va="center")
    # … and, once the loader is exhausted, back to the epoch loop
    arrow((bx, btop - bheight + 0.25), (lx + width, ltop - lheight + 0.25), colour="#9334e6",
          dashed=True)
    ax.text(lx + width + 0.12, ltop - lheight - 0.05, say("epoch done"), fontsize=9.5,
            color="#9334e6", family=words, va="top")
    # DDP all-reduce between ranks, drawn as a note on the backward box
    ax.text(0.2, legend_y, KOREAN["legend"] if language == "ko" else LEGEND, fontsize=8.5,
            family=words, color="#3c4043")

    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format=out.suffix.lstrip(".") or "svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)


def _digest() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def write_if_stale(out: Path = OUT, language: str = "en") -> Path:
    """Draw the figure unless it exists and this script has not changed since."""
    # the stamps live outside chapters/: not copied to the site
    stamp = REPO / "build" / ("flowchart.stamp" if language == "en"
                              else f"flowchart-{language}.stamp")
    if out.is_file() and stamp.is_file() and stamp.read_text().strip() == _digest():
        return out
    draw(out, language)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(_digest() + "\n")
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    draw(target, sys.argv[2] if len(sys.argv) > 2 else "en")
    print(target)
