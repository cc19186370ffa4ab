"""Drawing helpers for the walkthroughs: each function draws one figure from data that
the walkthrough computed, so the page's cell shows what is drawn, not how.

Not a walkthrough (the harness collects only ``NN_slug.py``); the walkthroughs import it
as ``figures`` (their working directory is ``walkthroughs/``).

The book has an English and a Korean edition that show the same executed figures, so the
word labels drawn here are bilingual ("epoch · 에폭"): English first, Korean after, the
Korean in the bundled Hangul font (glow_tts.fonts; matplotlib falls back to it glyph by
glyph, the rest of the figure keeps matplotlib's default font). Code, values and terms
Korean engineers write in English ("global rank" in the boxes) stay as they are.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from glow_tts.fonts import FONT_FAMILY, FONT_PATH

if FONT_FAMILY not in {entry.name for entry in font_manager.fontManager.ttflist}:
    font_manager.fontManager.addfont(str(FONT_PATH))
# Latin text in matplotlib's default face; Hangul falls back to the bundled font.
BILINGUAL = ["DejaVu Sans", FONT_FAMILY]


def both(english: str, korean: str, sep: str = " · ") -> str:
    """One bilingual label, English first: ``both("epoch", "에폭")`` is "epoch · 에폭";
    ``sep="\n"`` puts a long title's Korean on a second line.

    Draw it with ``family=BILINGUAL`` so the Korean half uses the bundled Hangul font."""
    return f"{english}{sep}{korean}"


_both = both  # the helpers below were written with the private name


def _box(ax, x, y, w, h, text, color="#dbe8f5", fontsize=8):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color,
                                ec="0.3", lw=0.8))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize,
            family=BILINGUAL)


def _arrow(ax, start, end, color="0.3", style="-|>", lw=0.8, rad=0.0):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=9,
                                 color=color, lw=lw, connectionstyle=f"arc3,rad={rad}"))


def rank_layout(reports: list[dict], endpoint: str):
    """Nodes, global and local ranks and the rendezvous of a torchrun job.

    ``reports``: one dict per process as ``glow_tts.distributed.probe`` writes it, with
    ``env`` holding torchrun's ``RANK``, ``LOCAL_RANK``, ``GROUP_RANK``; ``endpoint`` is
    the ``--rdzv-endpoint``.
    """
    nodes: dict[int, list[dict]] = {}
    for r in reports:
        nodes.setdefault(int(r["env"]["GROUP_RANK"]), []).append(r)
    per_node = max(len(v) for v in nodes.values())
    width = 2.6 * per_node + 0.6
    fig, ax = plt.subplots(figsize=(2.9 * len(nodes) * per_node / 2 + 1.5, 3.4))
    _box(ax, len(nodes) * width / 2 - 1.6, 3.1, 3.2, 0.6,
         f"{_both('rendezvous (c10d store)', '랑데부')}\n{endpoint}", color="#f7e3c4")
    for n, (node, members) in enumerate(sorted(nodes.items())):
        x0 = n * width
        ax.add_patch(FancyBboxPatch((x0 + 0.1, 0.1), width - 0.3, 2.3,
                                    boxstyle="round,pad=0.02", fc="0.96", ec="0.5"))
        ax.text(x0 + 0.25, 2.2, f"{_both(f'node {node}', f'노드 {node}')} (GROUP_RANK={node})",
                fontsize=8, va="top", family=BILINGUAL)
        for k, r in enumerate(sorted(members, key=lambda r: int(r["env"]["LOCAL_RANK"]))):
            x = x0 + 0.3 + k * 2.6
            _box(ax, x, 0.35, 2.3, 1.3,
                 f"global rank {r['env']['RANK']}\nlocal rank {r['env']['LOCAL_RANK']}\n"
                 f"pid {r['pid']}")
            _arrow(ax, (x + 1.15, 1.7), (len(nodes) * width / 2, 3.05), color="#b07020",
                   style="<|-|>")
    ax.text(len(nodes) * width / 2, -0.2,
            f"world size {len(reports)} = {len(nodes)} nodes x {per_node} processes;  "
            "global rank = GROUP_RANK x processes per node + LOCAL_RANK\n"
            f"월드 사이즈 {len(reports)} = 노드 {len(nodes)}개 x 프로세스 {per_node}개;  "
            "글로벌 랭크 = GROUP_RANK x 노드당 프로세스 수 + LOCAL_RANK",
            ha="center", va="top", fontsize=8, family=BILINGUAL)
    ax.set(xlim=(-0.1, len(nodes) * width), ylim=(-0.8, 3.9))
    ax.axis("off")
    plt.tight_layout()
    plt.show()



def epoch_grid(grid, title: str):
    """Epochs (rows) by samples (columns) of a shuffled loader; a cell's colour is the
    batch the sample landed in, grey (NaN) where ``drop_last`` left it out."""
    fig, ax = plt.subplots(figsize=(9, 2.4))
    ax.set_facecolor("0.8")
    ax.imshow(grid.numpy(), aspect="auto", cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
    ax.set(yticks=range(grid.shape[0]), title=title)
    ax.set_xlabel(_both("sample index (dataset[i])", "샘플 인덱스"), family=BILINGUAL)
    ax.set_ylabel(_both("epoch", "에폭"), family=BILINGUAL)
    ax.title.set_fontsize(9)
    plt.tight_layout()
    plt.show()



def load_compute_timeline(loads, computes):
    """A timeline of DataLoader workers loading items and the main loop computing.

    ``loads``: ``(worker id, start, end)`` per item; ``computes``: ``(start, end)`` per
    step; all in seconds of one clock (``time.monotonic``).
    """
    t0 = min([a for _, a, _ in loads] + [c for c, _ in computes])
    workers = sorted({w for w, _, _ in loads})
    fig, ax = plt.subplots(figsize=(9, 1.1 + 0.45 * (len(workers) + 1)))
    for w, a, b in loads:
        ax.barh(1 + workers.index(w), b - a, left=a - t0, height=0.6, color="#4c8cc4",
                edgecolor="white", lw=0.5)
    for c, d in computes:
        ax.barh(0, d - c, left=c - t0, height=0.6, color="#d9822b", edgecolor="white",
                lw=0.5)
    ax.set_yticks(range(len(workers) + 1),
                  [_both("main: compute", "메인: 계산")]
                  + [f"worker {w} · 워커 {w}: __getitem__" for w in workers], family=BILINGUAL)
    ax.set_xlabel(_both("seconds since the first event", "첫 이벤트부터의 초"), family=BILINGUAL)
    ax.set_title("DataLoader workers load the next batches while the loop computes\n"
                 "루프가 계산하는 동안 DataLoader 워커가 다음 배치를 불러옵니다",
                 family=BILINGUAL)
    ax.title.set_fontsize(9)
    plt.tight_layout()
    plt.show()



def model_shapes(records, attn_shape):
    """FlowGenerator's parts with the shapes a forward hook recorded on a real forward.

    ``records``: ``(module path, class name, input shape, output shape)``; the text side
    (``encoder.*``) is drawn on the left, the mel side (``decoder``) on the right, and the
    alignment (``attn_shape``) between them.
    """
    parts = {name: (kind, shape_in, shape_out)
             for name, kind, shape_in, shape_out in records}
    text_side = [n for n, *_ in records if n.startswith("encoder.")]
    order = {"encoder.emb": 0, "encoder.pre": 1, "encoder.encoder": 2,
             "encoder.proj_m": 3, "encoder.proj_w": 4}
    text_side.sort(key=lambda n: order.get(n, 9))
    fig, ax = plt.subplots(figsize=(9.5, 5.2))
    height, gap = 0.62, 0.9
    top = len(text_side) * gap + 0.2

    def label(name):
        kind, shape_in, shape_out = parts[name]
        return f"{name} ({kind})\n{list(shape_in)} -> {list(shape_out)}"

    kind, x_in, _ = parts[text_side[0]]
    _box(ax, 0.2, top, 3.6, 0.45, f"x: token ids {list(x_in)}", color="#eeeeee")
    previous = (2.0, top)
    for k, name in enumerate(text_side):
        y = top - (k + 1) * gap
        _box(ax, 0.2, y, 3.6, height, label(name))
        if name == "encoder.proj_w":  # reads the encoder's output, as proj_m does
            _arrow(ax, (0.2, encoder_y + height / 2), (0.2, y + height / 2), rad=0.4)
        else:
            _arrow(ax, previous, (2.0, y + height))
            previous = (2.0, y)
        if name == "encoder.encoder":
            encoder_y = y
    decoder_kind, y_in, z_out = parts["decoder"]
    _box(ax, 6.2, top, 3.6, 0.45, f"y: log-mel {list(y_in)}", color="#eeeeee")
    _box(ax, 6.2, top - 2 * gap, 3.6, height + 0.2,
         f"decoder ({decoder_kind})\nflow: ActNorm, InvConvNear, coupling\n"
         f"{list(y_in)} -> z {list(z_out)}", color="#e3f0dc")
    _arrow(ax, (8.0, top), (8.0, top - 2 * gap + height + 0.2))
    mas_y = top - 4 * gap
    _box(ax, 4.05, mas_y, 1.9, height + 0.25,
         f"MAS\nmaximum_path\nattn {list(attn_shape)}", color="#f7e3c4", fontsize=7)
    proj_m_y = top - (text_side.index("encoder.proj_m") + 1) * gap
    _arrow(ax, (3.8, proj_m_y + height / 2), (4.05, mas_y + height))
    _arrow(ax, (8.0, top - 2 * gap), (5.95, mas_y + height))
    ax.text(5.0, mas_y - 0.15, "prior means x_m and z meet in the alignment;\n"
            "durations from attn train proj_w\n"
            "사전 분포 평균 x_m과 z가 정렬에서 만나고,\n"
            "attn에서 얻은 지속 시간으로 proj_w를 학습합니다", ha="center", va="top", fontsize=7,
            family=BILINGUAL)
    ax.set(xlim=(-0.6, 10), ylim=(mas_y - 1.0, top + 0.6))
    ax.axis("off")
    ax.set_title("FlowGenerator.forward(x, x_lengths, y, y_lengths): "
                 "shapes recorded by hooks · 훅으로 기록한 shape", fontsize=9, family=BILINGUAL)
    plt.tight_layout()
    plt.show()



def mas_table(Q, came_from, path):
    """The MAS table ``Q`` [t_x, t_y] (−inf where no complete path passes), each cell's
    back-pointer (``came_from``: 1 from (i-1, j-1), 0 from (i, j-1)) and the chosen
    path."""
    import math

    t_x, t_y = Q.shape
    finite = Q[~Q.isinf()]
    shown = Q.clone()
    shown[Q.isinf()] = float("nan")
    fig, ax = plt.subplots(figsize=(min(12, 0.62 * t_y + 1.8), 0.62 * t_x + 1.4))
    ax.set_facecolor("0.85")
    im = ax.imshow(shown.numpy(), origin="lower", cmap="viridis", aspect="auto",
                   vmin=float(finite.min()), vmax=float(finite.max()))
    for i in range(t_x):
        for j in range(t_y):
            if math.isinf(float(Q[i, j])):
                continue
            on_path = bool(path[i, j])
            ax.text(j, i + 0.18, f"{float(Q[i, j]):.0f}", ha="center", va="center",
                    fontsize=6.5, color="white" if not on_path else "black",
                    fontweight="bold" if on_path else "normal")
            if j > 0:
                di = 1 if int(came_from[i, j]) == 1 else 0
                _arrow(ax, (j - 0.15, i - 0.2), (j - 0.75, i - 0.2 - 0.6 * di),
                       color="#ff5555" if on_path else "0.9", lw=1.2 if on_path else 0.6)
            if on_path:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                           ec="#ff5555", lw=1.5))
    ax.set(xticks=range(t_y), yticks=range(t_x))
    ax.set_xlabel(_both("mel frame j", "멜 프레임 j"), family=BILINGUAL)
    ax.set_ylabel(_both("token i", "토큰 i"), family=BILINGUAL)
    ax.set_title("MAS table Q[i, j] with back-pointers (arrows); red: the path read back "
                 "from the last cell; grey cells: unreachable\n"
                 "MAS 표 Q[i, j]와 역추적 포인터(화살표); 빨강: 마지막 칸에서 거슬러 읽은 경로; "
                 "회색 칸: 도달 불가", family=BILINGUAL)
    ax.title.set_fontsize(9)
    fig.colorbar(im, ax=ax, label="Q[i, j]")
    plt.tight_layout()
    plt.show()



def sample_timeline(rules: dict, n_steps: int, epoch_starts: list[int]):
    """When each rule takes the generated sample: ``rules`` maps a label to the global
    steps (from 1) it picks; ``epoch_starts`` are the first steps of each epoch."""
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.5 * len(rules)))
    colours = ["#7f7f7f", "#d9822b", "#4c8cc4"]
    for row, (label, steps) in enumerate(rules.items()):
        ax.hlines(row, 0.5, n_steps + 0.5, color="0.85", lw=1)
        ax.plot(steps, [row] * len(steps), "o", ms=9, color=colours[row % len(colours)])
    for start in epoch_starts[1:]:
        ax.axvline(start - 0.5, color="0.4", ls=":", lw=1)
    for k, start in enumerate(epoch_starts):
        ax.text(start - 0.4, len(rules) - 0.45, f"epoch · 에폭 {k + 1}", fontsize=8,
                color="0.3", family=BILINGUAL)
    ax.set_yticks(range(len(rules)), list(rules))
    ax.set(xlim=(0.5, n_steps + 0.5), ylim=(-0.6, len(rules) - 0.2),
           xticks=range(1, n_steps + 1))
    ax.set_xlabel(_both("global step", "글로벌 스텝"), family=BILINGUAL)
    ax.set_title(_both("when the generated sample runs", "생성 샘플이 실행되는 때"), fontsize=9,
                 family=BILINGUAL)
    plt.tight_layout()
    plt.show()
