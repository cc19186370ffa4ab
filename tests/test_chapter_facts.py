"""The hand-written chapters state facts about our code and the original; check them.

A chapter that names a module or function of ``glow_tts``, quotes a number from
``bench/RESULTS.md`` or a pinned version, or cites the original at ``file:line`` fails
here when the code, the results or the pins move. Citations of the original are checked
offline against ``tests/data/glow_tts_original_files.txt`` (its files and line counts at
its last commit) and ``tests/data/glow_tts_original_defs.txt`` (where each name is
defined), both recorded from jaywalnut310/glow-tts at the commit below.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
CHAPTERS = REPO / "chapters"
DATA = Path(__file__).resolve().parent / "data"
ORIGINAL_COMMIT = "13e997689d643410f5d9f1f9a73877ae85e19bc2"
ORIGINAL_URL = "https://github.com/jaywalnut310/glow-tts/blob/"
HAND_WRITTEN = ["map.md", "changes.md", "flowchart.md", "glossary.md"]

CITATION = re.compile(
    r"\[`(?P<text>[^`\]]+)`\]\(" + re.escape(ORIGINAL_URL)
    + r"(?P<commit>[0-9a-f]+)/(?P<path>[^)#\s]+)(?:#L(?P<a>\d+)(?:-L(?P<b>\d+))?)?\)")
ANY_ORIGINAL_LINK = re.compile(re.escape(ORIGINAL_URL) + r"[^)\s]*")


def chapter(name: str) -> str:
    return (CHAPTERS / name).read_text(encoding="utf-8")


def original_files() -> dict[str, int]:
    files = {}
    for line in (DATA / "glow_tts_original_files.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            path, count = line.split("\t")
            files[path] = int(count)
    return files


def original_defs() -> dict[tuple[str, int], set[str]]:
    defs: dict[tuple[str, int], set[str]] = {}
    for line in (DATA / "glow_tts_original_defs.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            where, name = line.split("\t")
            path, number = where.rsplit(":", 1)
            defs.setdefault((path, int(number)), set()).add(name)
    return defs


def missing(dotted_names) -> list[str]:
    """The names among ``dotted_names`` that do not resolve, with the reason."""
    gone = []
    for dotted in dotted_names:
        try:
            resolve(dotted)
        except (ImportError, AttributeError) as error:
            gone.append(f"{dotted}: {error}")
    return gone


def resolve(dotted: str):
    """Import the longest module prefix of ``dotted`` and walk the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)  # AttributeError: the chapter names something gone
        return obj
    raise ModuleNotFoundError(dotted)


def module_of(path: str) -> str:
    """``glow_tts/fast/mas.py`` -> ``glow_tts.fast.mas``; ``glow_tts/text/`` -> ``glow_tts.text``."""
    stem = path.rstrip("/").removesuffix(".py").removesuffix("/__init__")
    return stem.replace("/", ".")


def table_rows(text: str, header_start: str):
    """Rows (lists of cells) of every Markdown table whose header row starts with ``header_start``."""
    rows, inside = [], False
    for line in text.splitlines():
        if line.startswith("| " + header_start):
            inside = True
            continue
        if inside and line.startswith("| ---"):
            continue
        if inside and line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
        else:
            inside = False
    return rows


PATH_OR_NAME = re.compile(r"`(glow_tts/[\w/]*(?:\.py|/))`|`([A-Za-z_][\w.]*)`")


def names_by_module(cell: str, default_module: str | None = None):
    """Pairs (module, name) from a cell written as ``path`` ``name``, ``name`` ... ."""
    module = default_module
    for match in PATH_OR_NAME.finditer(cell):
        if match.group(1):
            module = module_of(match.group(1))
        elif module is not None and (module != default_module or "." not in match.group(2)):
            # in a row's own description, dotted names (`nn.Dropout`) are torch's, not the module's
            yield module, match.group(2)


# ------------------------------------------------------------------ citations of the original

def test_the_recorded_original_is_its_last_commit_and_complete():
    files = original_files()
    header = (DATA / "glow_tts_original_files.txt").read_text(encoding="utf-8")
    assert ORIGINAL_COMMIT in header
    for path in ("train.py", "init.py", "models.py", "utils.py", "LICENSE", "text/LICENSE",
                 ".gitmodules", "monotonic_align/core.pyx"):
        assert files[path] > 0


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_every_link_to_the_original_is_a_valid_file_line_citation(name):
    text = chapter(name)
    files = original_files()
    links = ANY_ORIGINAL_LINK.findall(text)
    citations = list(CITATION.finditer(text))
    # every link into the original is a citation of the form [`file:line`](...#Lline)
    assert len(links) == len(citations), [link for link in links
                                           if not any(link in c.group(0) for c in citations)]
    for c in citations:
        assert c.group("commit") == ORIGINAL_COMMIT, c.group(0)
        path = c.group("path")
        assert path in files, f"{name}: {path} is not a file of the original"
        expected_text = path
        if c.group("a"):
            first, last = int(c.group("a")), int(c.group("b") or c.group("a"))
            assert 1 <= first <= last <= files[path] + 1, f"{name}: {c.group(0)} is past the end"
            expected_text += f":{first}" + (f"-{last}" if c.group("b") else "")
        assert c.group("text") == expected_text, c.group(0)


def test_map_and_changes_cite_the_original():
    assert len(CITATION.findall(chapter("map.md"))) >= 80
    assert len(CITATION.findall(chapter("changes.md"))) >= 40
    assert len(CITATION.findall(chapter("flowchart.md"))) >= 10


NAMED_CITATION = re.compile(r"`(?P<name>[A-Za-z_][\w.]*)` " + CITATION.pattern)


@pytest.mark.parametrize("name", ["map.md", "changes.md"])
def test_a_name_followed_by_a_citation_is_defined_on_that_line(name):
    defs = original_defs()
    checked = 0
    for match in NAMED_CITATION.finditer(chapter(name)):
        if not match.group("a") or match.group("b"):
            continue  # a range, or a whole file: no single definition line
        where = (match.group("path"), int(match.group("a")))
        defined = defs.get(where, set())
        cited = match.group("name")
        assert any(d == cited or d.endswith("." + cited) for d in defined), \
            f"{name}: `{cited}` cited at {where[0]}:{where[1]}, which defines {defined or 'nothing'}"
        checked += 1
    if name == "map.md":
        assert checked >= 60


def test_every_map_row_about_the_original_cites_it():
    text = chapter("map.md")
    rows = table_rows(text, "Original |")
    assert len(rows) >= 45
    for cells in rows:
        original = cells[0]
        if original in ("—", "") or "filelists/" in original or ".ipynb" in original \
                or "resources/" == original:
            continue
        assert CITATION.search(original), f"map row without a citation: {cells[0]}"


# ------------------------------------------------------------------ our code, as the chapters name it

def test_every_map_row_names_code_that_exists():
    names = [f"{module}.{attribute}" for cells in table_rows(chapter("map.md"), "Original |")
             for module, attribute in names_by_module(cells[1])]
    assert len(names) >= 70
    assert missing(names) == []


def test_the_module_table_describes_modules_that_exist():
    rows = table_rows(chapter("map.md"), "module |")
    paths = [re.fullmatch(r"`(glow_tts/[\w/]*(?:\.py|/))`", cells[0]).group(1) for cells in rows]
    names = [f"{module}.{attribute}" for cells, path in zip(rows, paths)
             for module, attribute in names_by_module(cells[1], default_module=module_of(path))]
    assert missing(names) == []
    # every module of the package appears in the table (subpackages as a whole)
    package = REPO / "glow_tts"
    listed = {p.rstrip("/") for p in paths}
    for entry in package.iterdir():
        if entry.name.startswith(("_", ".")) and entry.name != "__main__.py":
            continue
        if entry.suffix == ".py" or (entry.is_dir() and (entry / "__init__.py").exists()):
            relative = f"glow_tts/{entry.name}"
            assert relative in listed, f"{relative} is missing from the map's module table"


DOTTED = re.compile(r"`(glow_tts(?:\.[A-Za-z_]\w*)+)(?:\([^`]*\))?`")
REPO_PATH = re.compile(r"`((?:glow_tts|tests|bench|tools|configs|walkthroughs)/[\w./-]+)`")


@pytest.mark.parametrize("name", ["map.md", "changes.md", "flowchart.md"])
def test_dotted_names_and_repository_paths_in_the_chapter_exist(name):
    text = CITATION.sub("", chapter(name))  # a citation's text is a path in the original
    assert missing(DOTTED.findall(text)) == []
    for path in REPO_PATH.findall(text):
        assert (REPO / path).exists(), f"{name} names {path}, which does not exist"


# ------------------------------------------------------------------ numbers and versions

def test_the_training_step_ratio_is_the_one_bench_results_report():
    results = (REPO / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    row = next(line for line in results.splitlines() if line.startswith("| training step"))
    verdict = row.strip().strip("|").split(" | ")[-1]
    ratios = [float(x) for x in re.findall(r"(\d\.\d+)×", verdict)]
    assert ratios, row
    quoted = float(re.search(r"<!-- ratio -->([\d.]+)<!-- /ratio -->", chapter("changes.md")).group(1))
    measured = sum(ratios) / len(ratios)
    assert abs(quoted - measured) <= 0.01, (quoted, ratios)


def pinned_versions() -> dict[str, str]:
    pins = {}
    for candidate in ("requirements.txt", "requirements.lock", "requirements-lock.txt"):
        path = REPO / candidate
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                match = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", line)
                if match:
                    pins.setdefault(match.group(1).lower(), match.group(2))
    return pins


def test_the_versions_the_chapters_quote_are_the_pinned_ones():
    pins = pinned_versions()
    sentence = re.search(r"<!-- pins -->(.*?)<!-- /pins -->", chapter("changes.md"), re.S).group(1)
    quoted = dict((name.lower(), version) for name, version in
                  re.findall(r"(PyTorch|librosa|NumPy|matplotlib) (\d+\.\d+\.\d+)", sentence))
    assert set(quoted) == {"pytorch", "librosa", "numpy", "matplotlib"}
    assert quoted.pop("pytorch") == pins["torch"].split("+")[0]   # the lock has 2.13.0+cpu
    for name, version in quoted.items():
        assert version == pins[name], (name, version, pins[name])


def test_the_rendezvous_rejects_port_80000_with_a_value_error(monkeypatch):
    """changes.md and flowchart.md: from PyTorch 1.11 on, the env:// rendezvous refuses
    MASTER_PORT=80000 with a ValueError before it opens any socket."""
    import torch.distributed as dist

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "80000")
    with pytest.raises(ValueError, match="port must have value from 0 to 65535 but was 80000"):
        next(dist.rendezvous("env://", rank=0, world_size=1))
    assert "ValueError since torch 1.11" in (REPO / "tools" / "flowchart.py").read_text(encoding="utf-8")


def test_glossary_jamo_count_and_ranges_match_the_symbols():
    symbols_module = importlib.import_module("glow_tts.text.symbols")

    row = next(line for line in chapter("glossary.md").splitlines() if line.startswith("| 자모 "))
    count = int(re.search(r"the (\d+) conjoining jamo", row).group(1))
    assert count == len(symbols_module.JAMO) == 67
    ranges = re.findall(r"(\d+) \w+ U\+([0-9A-F]{4})–U\+([0-9A-F]{4})", row)
    assert len(ranges) == 3
    covered = []
    for n, first, last in ranges:
        block = list(range(int(first, 16), int(last, 16) + 1))
        assert len(block) == int(n)
        covered += block
    assert sorted(covered) == sorted(ord(c) for c in symbols_module.JAMO)


FAST_DEFAULT = re.compile(r"`train\.fast` \(default `(true|false)`\)")


@pytest.mark.parametrize("name", ["map.md", "changes.md"])
def test_the_train_fast_default_the_chapter_states_is_what_build_model_does(name):
    # The chapter says which way `train.fast` defaults and that build_model acts on it;
    # a config without the key (configs/tiny.json has none) must give what it says, and
    # `train.fast: false` must give the plain model.
    import json

    from glow_tts import fast
    from glow_tts.hparams import HParams, validate_config
    from glow_tts.models import build_model

    text = chapter(name)
    stated = FAST_DEFAULT.findall(text)
    assert stated, f"{name} no longer states the default of train.fast"
    assert "build_model" in text and "glow_tts.fast.enable" in text
    assert "no command reads" not in text, f"{name} says train.fast is unused; build_model reads it"
    config = json.loads((REPO / "configs" / "tiny.json").read_text(encoding="utf-8"))
    assert "fast" not in config["train"], "tiny.json sets train.fast; the default is not tested"
    default_on = fast.is_enabled(build_model(HParams(**validate_config(config))))
    assert set(stated) == {"true" if default_on else "false"}, (name, stated, default_on)
    config["train"]["fast"] = not default_on
    assert fast.is_enabled(build_model(HParams(**validate_config(config)))) == (not default_on)


def test_the_numba_record_counts_are_the_ones_walkthrough_16_measured():
    # Both figures are measurements (cold and warm numba cache) written down in walkthrough
    # 16; the chapter quotes them and must not drift from them.
    text = chapter("changes.md")
    page = (REPO / "walkthroughs" / "16_what_changed.py").read_text(encoding="utf-8")
    for which in ("cold", "warm"):
        quoted = re.search(rf"<!-- numba-{which} -->([\d,]+)<!-- /numba-{which} -->", text)
        assert quoted, f"changes.md has no numba-{which} figure"
        assert quoted.group(1) in page, (which, quoted.group(1))
    cold, warm = (int(re.search(rf"<!-- numba-{w} -->([\d,]+)", text).group(1).replace(",", ""))
                  for w in ("cold", "warm"))
    assert cold > warm, "the empty cache must be the larger count"
    assert "empty numba cache" in page and "on-disk cache" in page


# ------------------------------------------------------------------ the licence

def test_license_is_mit_with_the_original_notices():
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c) 2020 Jaehyeon Kim" in text
    assert "Copyright (c) 2017 Keith Ito" in text
    assert "The above copyright notice and this permission notice shall be included" in text
    assert 'license = "MIT"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")
    # The fonts are not MIT: LICENSE must say so, and their own licence files must exist.
    assert "SIL Open Font License 1.1" in text
    for font_licence in ("glow_tts/fonts/OFL.txt", "chapters/assets/fonts/LICENSE-GlowBookHangul.txt"):
        assert font_licence in text and (REPO / font_licence).exists()
    assert "glow_tts/fonts/NanumGothic.ttf" in text and (REPO / "glow_tts/fonts/NanumGothic.ttf").exists()


# ------------------------------------------------------------------ library behaviour changes.md states

def _raise_in_child(rank):
    raise KeyError(f"rank {rank} failed")


@pytest.mark.slow
def test_mp_spawn_reraises_a_child_error_as_process_raised_exception():
    """flowchart.md: the parent gets ProcessRaisedException carrying the child's traceback
    as text, not the child's exception."""
    import torch.multiprocessing as mp

    with pytest.raises(mp.ProcessRaisedException) as caught:
        mp.spawn(_raise_in_child, nprocs=1)
    assert not isinstance(caught.value, KeyError)
    assert "Traceback" in str(caught.value) and "KeyError: 'rank 0 failed'" in str(caught.value)


@pytest.mark.slow
def test_dated_apis_behave_as_changes_md_says(tmp_path):
    import logging
    import pickle
    import warnings

    import librosa
    import numpy as np

    text = chapter("changes.md")
    # torch.qr: deprecated, warns once per process. Run in a fresh interpreter so that no
    # earlier call in this process has used up the warning.
    probe = ("import warnings, torch\n"
             "counts = []\n"
             "with warnings.catch_warnings(record=True) as w:\n"
             "    warnings.simplefilter('default')\n"
             "    for _ in range(3):\n"
             "        n = len(w); torch.qr(torch.randn(3, 3)); counts.append(len(w) - n)\n"
             "print(counts)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[1, 0, 0]" and "warns\nonce per process" in text

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.nn.utils.weight_norm(torch.nn.Conv1d(2, 2, 1))
        torch.jit.script(_gate)
        logging.getLogger("glow_tts.test").warn("x")
    kinds = {(w.category, str(w.message).split(" is deprecated")[0]) for w in caught}
    assert (FutureWarning, "`torch.nn.utils.weight_norm`") in kinds
    assert (DeprecationWarning, "`torch.jit.script`") in kinds
    assert any(c is DeprecationWarning and "'warn' method" in m for c, m in kinds)

    with pytest.raises(ValueError, match="binary mode of fromstring is removed"):
        np.fromstring(b"\x00\x01", dtype=np.uint8, sep="")
    assert np.zeros(2).astype(np.bool).dtype == np.dtype(bool)  # back in NumPy 2

    for call in (lambda: librosa.filters.mel(22050, 1024, 80, 0.0, 8000.0),
                 lambda: librosa.util.pad_center(np.ones(800), 1024),
                 lambda: librosa.stft(np.zeros(4096, dtype=np.float32), 1024, 256, 1024, "hann")):
        with pytest.raises(TypeError, match="positional argument"):
            call()

    # the original's Noam learning rate is a NumPy float64 and lands in the optimizer state
    lr = 1.0 * np.power(192, -0.5) * np.min([np.power(1, -0.5), 1 * np.power(4000, -1.5)])
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=lr)
    assert type(optimizer.state_dict()["param_groups"][0]["lr"]) is np.float64
    path = tmp_path / "G_1.pth"
    torch.save({"model": {}, "iteration": 1, "optimizer": optimizer.state_dict(),
                "learning_rate": 1.0}, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torch.load(path, map_location="cpu")  # the original's call, today's default
    from glow_tts.checkpoint import load_checkpoint_dict
    assert type(load_checkpoint_dict(str(path))["optimizer"]["param_groups"][0]["lr"]) is float

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compile("s in table and s is not '_'", "text/__init__.py", "eval")
    assert [w.category for w in caught] == [SyntaxWarning]



def _gate(a, b):  # a TorchScript-able function, as the original's fused_add_tanh_sigmoid_multiply
    return torch.tanh(a) * torch.sigmoid(b)
