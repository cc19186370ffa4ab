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
# # Hyper-parameters, `getattr` defaults and the run's logger
#
# *Reviews:* `init.py`, `main` — `hps = utils.get_hparams()`, `logger = utils.get_logger(hps.model_dir)`,
# `logger.info(hps)` and `getattr(hps.data, "add_blank", False)` when it computes the
# vocabulary size for `FlowGenerator_DDI(len(symbols) + getattr(...), ...)`; and `utils.py`,
# `get_hparams`, `HParams`, `get_logger`. Our versions live in `glow_tts/hparams.py` and
# `glow_tts/utils.py`.
#
# You will learn:
#
# * what `get_hparams` does: it parses `-c/--config` and `-m/--model` from the command
#   line, reads and checks the JSON config, and decides the run directory `model_dir`;
# * how an `HParams` object gives the same value by attribute and by key, and why
#   `FlowGenerator(**hps.model)` works;
# * what `getattr(obj, name, default)` returns when the attribute is missing, and what
#   plain attribute access does instead; why `len(symbols) + add_blank` is a number;
# * where `get_logger` writes, in which format, and what `logger.info(hps)` puts there.
#
# covers: T02, T05, T06

# %%
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from glow_tts.hparams import (ConfigError, HParams, SCHEMA, get_hparams,
                              get_hparams_from_file)
from glow_tts.models import build_model
from glow_tts.text.symbols import symbols
from glow_tts.utils import get_logger

# Every file this walkthrough writes goes to a fresh temporary folder.
workdir = tempfile.mkdtemp(prefix="glow_tts_01_")

# %% [markdown]
# ## `get_hparams`: the command line picks a config and a run directory
#
# The original `train.py` and `init.py` both start with `hps = utils.get_hparams()`.
# It reads two options from `sys.argv`: `-c` names a JSON config file, `-m` names the
# model (the run). We pass the argument list explicitly (`args=[...]`), which is what
# `argparse` would otherwise read from the command line. A name without a slash becomes
# `./logs/NAME`; a path with a slash is used as given, which keeps this notebook's files in
# its temporary folder.

# %%
run_dir = os.path.join(workdir, "kss_base")
hps = get_hparams(args=["-c", "../configs/base.json", "-m", run_dir])
hps.model_dir, sorted(hps.keys())

# %%
assert hps.model_dir == run_dir
assert sorted(hps.keys()) == ["data", "model", "model_dir", "train"]
# The config was copied into the run directory: a later `init=False` reads that copy.
assert os.path.isfile(os.path.join(run_dir, "config.json"))

# %% [markdown]
# <a id="claim-1-2-1-get-hparams"></a>
#
# > **The notes say** (§1.2.1) that `utils.get_hparams()` is the module that brings in
# > Python's parsers. **Partly right**: it does build an `argparse` parser, for `-c` and
# > `-m` only, but its job is the run's hyper-parameters, which is what it returns: it
# > reads the JSON file named by `-c` into nested `HParams`, creates the run folder named
# > by `-m` (`./logs/NAME` in the original), copies the config into it as `config.json`
# > and sets `hps.model_dir` (original `utils.py`, lines 144–171). Ours does the same.
# > (The notes say "module" for any named piece of code, a function included, as they do
# > for `get_logger` and `mp.spawn`; the word counts for nothing here.)

# %%
config_file = json.loads(Path("../configs/base.json").read_text())
saved_copy = json.loads(Path(os.path.join(run_dir, "config.json")).read_text())
assert type(hps) is HParams and type(hps.model) is HParams           # not a parser
assert hps.model.hidden_channels == config_file["model"]["hidden_channels"]
assert saved_copy["model"]["hidden_channels"] == config_file["model"]["hidden_channels"]
try:
    get_hparams(args=["-c", "../configs/base.json"])                  # no -m
    raise RuntimeError("a missing -m was accepted")
except SystemExit as stop:                                             # argparse's exit
    assert stop.code == 2

# %% [markdown]
# `HParams` wraps the nested JSON objects so that a section is read like an object
# (`hps.train.batch_size`) *and* like a dict (`hps["train"]["batch_size"]`). The dict side
# (`keys()` and `__getitem__`) is what lets Python unpack it with `**`: the original builds
# its model with `FlowGenerator(..., **hps.model)`, turning every key of the `model`
# section into a keyword argument.

# %%
assert hps.train.batch_size == hps["train"]["batch_size"] == 32
assert isinstance(hps.model, HParams)


def show_kwargs(**kwargs):
    return kwargs


unpacked = show_kwargs(**hps.model)
assert unpacked["hidden_channels"] == 192 and unpacked["n_sqz"] == 2
assert set(unpacked) == set(hps.model.keys())

# %% [markdown]
# The original wrote `config.json` into `model_dir` on *every* launch, silently replacing
# the copy that described the weights already there. Ours writes it once and refuses a
# different config for the same run, listing the differences:

# %%
changed = json.loads(Path("../configs/base.json").read_text())
changed["train"]["batch_size"] = 16
other_config = os.path.join(workdir, "changed.json")
Path(other_config).write_text(json.dumps(changed))
try:
    get_hparams(args=["-c", other_config, "-m", run_dir])
    raise RuntimeError("a different config for an existing run was accepted")
except ConfigError as err:
    print(err)
    assert "train.batch_size: 32 -> 16" in str(err)

# %% [markdown]
# A config file is checked against one schema (`glow_tts.hparams.SCHEMA`), so a typo is an
# error that names the file and suggests the key you meant, instead of a key that is
# silently ignored while the default is used:

# %%
typo = json.loads(Path("../configs/base.json").read_text())
typo["model"]["hiden_channels"] = typo["model"].pop("hidden_channels")
typo_path = os.path.join(workdir, "typo.json")
Path(typo_path).write_text(json.dumps(typo))
try:
    get_hparams_from_file(typo_path)
    raise RuntimeError("a misspelt key was accepted")
except ConfigError as err:
    print(err)
    assert "did you mean 'hidden_channels'" in str(err) and typo_path in str(err)

# %% [markdown]
# <a id="claim-1-1-1-getattr"></a>
#
# ## `getattr(hps.data, "add_blank", False)`
#
# `getattr(obj, "name")` is `obj.name` with the name given as a string. With a third
# argument, `getattr(obj, "name", default)` returns `default` when `obj` has no such
# attribute, where `obj.name` (and the two-argument `getattr`) raises `AttributeError`.
# The original reads `add_blank` this way because configs written before the option
# existed do not have the key. An `HParams` built directly from a dict shows both cases:

# %%
old_style = HParams(data={"sampling_rate": 22050})  # a section without "add_blank"
print(getattr(old_style.data, "add_blank", False))

# %%
assert getattr(old_style.data, "add_blank", False) is False
try:
    old_style.data.add_blank
    raise RuntimeError("expected AttributeError")
except AttributeError as err:
    print("AttributeError:", err)
try:
    getattr(old_style.data, "add_blank")  # no default: the same error
    raise RuntimeError("expected AttributeError")
except AttributeError:
    pass

# %% [markdown]
# A config *loaded through the schema* never lacks an optional key: loading fills in every
# documented default, so in this project `hps.data.add_blank` always exists. The
# `getattr` pattern is kept where the original has it, but the one place that decides the
# default is `SCHEMA`:

# %%
no_blank = json.loads(Path("../configs/base.json").read_text())
del no_blank["data"]["add_blank"]
no_blank_path = os.path.join(workdir, "no_blank.json")
Path(no_blank_path).write_text(json.dumps(no_blank))
filled = get_hparams_from_file(no_blank_path)
assert "add_blank" in filled.data and filled.data.add_blank is False
assert SCHEMA["data"]["add_blank"][1] is False  # (types, default, meaning)

# %% [markdown]
# ## `n_vocab = len(symbols) + add_blank`
#
# The model's embedding table needs one row per token id. The symbol list has
# $|\text{symbols}| = 73$ entries (pad, space, four punctuation marks and 67 jamo). With
# `add_blank`, a blank token is put between every pair of symbols, and its id is
# `len(symbols)`, one past the last symbol: the table needs one more row. The original
# writes this as `len(symbols) + getattr(hps.data, "add_blank", False)`, adding a `bool`
# to an `int`. That works because in Python `bool` is a subclass of `int`, with
# `True == 1` and `False == 0`, so the sum is a plain `int`.
#
# The model builder does exactly this sum. Built from the tiny config with `add_blank`
# off and on, its embedding (`encoder.emb`) has 73 and 74 rows, and only the second
# accepts the blank id 73:

# %%
def accepts_blank(model):
    """Does the embedding have a row for the blank id len(symbols)?"""
    try:
        model.encoder.emb(torch.LongTensor([len(symbols)]))   # [1] -> [1, hidden]
        return True
    except IndexError as err:
        print("  IndexError:", err)
        return False


tiny = get_hparams_from_file("../configs/tiny.json")
rows, accepted = {}, {}
for add_blank in (False, True):
    tiny.data.add_blank = add_blank
    model = build_model(tiny)
    rows[add_blank] = model.encoder.emb.num_embeddings
    accepted[add_blank] = accepts_blank(model)
    print(f"add_blank={add_blank}: {rows[add_blank]} rows, blank id accepted: "
          f"{accepted[add_blank]}")

# %%
assert len(symbols) == 73
assert rows == {False: len(symbols) + False, True: len(symbols) + True}
assert rows == {False: 73, True: 74}
assert accepted == {False: False, True: True}

# %% [markdown]
# ## `get_logger(model_dir)` and `logger.info(hps)`: the original
#
# The original's `utils.get_logger(model_dir)` takes the logger named after the run
# folder (`logging.getLogger(os.path.basename(model_dir))`), sets it to DEBUG and adds one
# *handler*: a `FileHandler` writing `model_dir/train.log`, at DEBUG, each line stamped
# `time<TAB>name<TAB>level<TAB>message`. That alone would print nothing. But the same
# `utils.py` calls `logging.basicConfig(stream=sys.stdout, level=logging.DEBUG)` when it is
# imported, which gives the *root* logger a handler on stdout. A logger passes each record
# to its own handlers and then, because `propagate` is `True` by default, to its
# ancestors' handlers, up to the root. So `logger.info(hps)` reaches two places: the file,
# and stdout in basicConfig's format `LEVEL:name:message`. `hps` becomes text through
# `HParams.__repr__`, the repr of its attribute dict.
#
# The cell below restates that setup with the standard `logging` calls (not the original's
# code) in a fresh interpreter, since `basicConfig` does nothing in a process whose root
# logger already has a handler (pytest and some notebook front ends add one):

# %%
ORIGINAL_STYLE = r"""
import logging, os, sys
logging.basicConfig(stream=sys.stdout, level=logging.DEBUG)   # utils.py, on import
model_dir = sys.argv[1]
logger = logging.getLogger(os.path.basename(model_dir))        # get_logger(model_dir)
logger.setLevel(logging.DEBUG)
to_file = logging.FileHandler(os.path.join(model_dir, "train.log"))
to_file.setLevel(logging.DEBUG)
to_file.setFormatter(
    logging.Formatter("%(asctime)s\t%(name)s\t%(levelname)s\t%(message)s"))

logger.addHandler(to_file)
logger.info({"train": {"batch_size": 32}})                     # logger.info(hps)
"""
original_dir = os.path.join(workdir, "original_run")
os.makedirs(original_dir)
shown = subprocess.run([sys.executable, "-c", ORIGINAL_STYLE, original_dir],
                       capture_output=True, text=True, check=True)
original_file = Path(os.path.join(original_dir, "train.log")).read_text(encoding="utf-8")
print("stdout:   ", shown.stdout.strip())
print("train.log:", original_file.strip())

# %%
assert shown.stdout == "INFO:original_run:{'train': {'batch_size': 32}}\n"
assert original_file.rstrip("\n").split("\t")[1:] == [
    "original_run", "INFO", "{'train': {'batch_size': 32}}"]

# %% [markdown]
# <a id="claim-1-2-3-logger-info"></a>
#
# > **The notes say** (§1.2.3) that `logger.info(hps)` is the part that prints.
# > **Right**: in the original it prints the whole config to stdout (through the root
# > handler that `basicConfig` installed) and, the part the notes leave out, writes the
# > same record to `model_dir/train.log` (through the handler `get_logger` added, §1.2.2),
# > so the log file records which hyper-parameters the run used. It is not a `print`
# > call: the message goes through the logging system, which decides where it ends up.
#
# The cell below observes this with the original's set-up, rewritten in a few lines and
# run in a fresh interpreter (the page's own logging must not interfere): `basicConfig`
# with stdout at DEBUG, as the original's `utils.py` does on import (line 14), then what
# its `get_logger` does (lines 214-226): a logger named after the run folder, at DEBUG,
# with one `FileHandler` on `train.log` in the tab-separated format. Then one `info`
# call with a config-like dict.

# %%
original_setup = """
import logging, os, sys
logging.basicConfig(stream=sys.stdout, level=logging.DEBUG)  # utils.py, at import
run_dir = sys.argv[1]
run_logger = logging.getLogger(os.path.basename(run_dir))     # get_logger(run_dir)
run_logger.setLevel(logging.DEBUG)
to_file = logging.FileHandler(os.path.join(run_dir, "train.log"))
tab_format = "\\t".join(["%(asctime)s", "%(name)s", "%(levelname)s", "%(message)s"])
to_file.setFormatter(logging.Formatter(tab_format))
run_logger.addHandler(to_file)
run_logger.info({"train": {"batch_size": 32}})                # logger.info(hps)
"""
original_dir = os.path.join(tempfile.mkdtemp(), "orig_run")
os.makedirs(original_dir)
ran = subprocess.run([sys.executable, "-c", original_setup, original_dir],
                     capture_output=True, text=True, check=True)
original_log = Path(os.path.join(original_dir, "train.log")).read_text(encoding="utf-8")
print("stdout:", ran.stdout, "train.log:", original_log, sep="\n")

# %%
# stdout: the root handler's default format, reached by propagation from the named logger
assert ran.stdout == "INFO:orig_run:{'train': {'batch_size': 32}}\n" and ran.stderr == ""
# train.log: the same record through get_logger's handler, in its format
assert original_log.rstrip("\n").split("\t")[1:] == \
    ["orig_run", "INFO", "{'train': {'batch_size': 32}}"]

# %% [markdown]
# ## Ours: `glow_tts.utils.get_logger`
#
# Ours writes the same record to the same two kinds of place, the file
# `model_dir/train.log` and the console, but through two handlers of its own: a
# `FileHandler` and a `StreamHandler` on stderr, both with the tab-separated format. Its
# level is INFO. It does not propagate to the root logger, and nothing in `glow_tts`
# calls `basicConfig` (walkthrough 16 checks that importing the package leaves the root
# logger alone). Why: the original's `basicConfig(level=DEBUG)` at import switched on
# DEBUG messages of *every* library in the process (matplotlib's font search, for one),
# and a program that imports `glow_tts` keeps its own logging configuration. The console
# copy goes to stderr, so a command's stdout carries only its results. `HParams.__repr__`
# here prints the config as indented JSON.

# %%
logger = get_logger(hps.model_dir)
logger.info(hps)
log_path = os.path.join(hps.model_dir, "train.log")
for handler in logger.handlers:
    handler.flush()
log_text = Path(log_path).read_text(encoding="utf-8")
print(log_text[:300])

# %%
first_line = log_text.splitlines()[0]
asctime, name, level, message = first_line.split("\t")
assert level == "INFO" and name == "glow_tts.kss_base" and message == "{"
# The whole config is in the file, as JSON after the first line's prefix.
logged = json.loads(log_text[log_text.index("{"):])
assert logged["model"]["hidden_channels"] == 192 and logged["model_dir"] == run_dir
# Two handlers: the file and the console (stderr).
streams = sorted((type(h).__name__, getattr(h, "stream", None) is sys.stderr)
                 for h in logger.handlers)
assert streams == [("FileHandler", False), ("StreamHandler", True)]

# %% [markdown]
# Not propagating means the root logger's handlers never see our records, and another
# library's debug output stays off. Calling `get_logger` twice for the same run returns
# the same logger without a second pair of handlers (which would write every line twice).
# A handler put on the root logger shows both:

# %%
at_root = io.StringIO()
root_handler = logging.StreamHandler(at_root)
logging.getLogger().addHandler(root_handler)
try:
    get_logger(hps.model_dir).info("a second call")
finally:
    logging.getLogger().removeHandler(root_handler)
lines_now = Path(log_path).read_text(encoding="utf-8").splitlines()

# %%
assert logger.propagate is False and at_root.getvalue() == ""      # root saw nothing
assert get_logger(hps.model_dir) is logger and len(logger.handlers) == 2
assert sum(line.endswith("\ta second call") for line in lines_now) == 1   # written once
assert logging.getLogger("matplotlib").getEffectiveLevel() > logging.DEBUG

# %% [markdown]
# INFO is the level: `logger.debug(...)` is dropped, `logger.warning(...)` is kept.
# A temporary extra handler captures what passes the logger's level:

# %%
captured = io.StringIO()
extra = logging.StreamHandler(captured)
logger.addHandler(extra)
logger.debug("not shown")
logger.warning("shown")
logger.removeHandler(extra)
assert captured.getvalue() == "shown\n"
