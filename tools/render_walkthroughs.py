"""Execute every walkthroughs/NN_slug.py and write it as a book page.

For each walkthrough (in file-name order):
  1. read the jupytext percent file and execute it with nbclient, on a Jupyter kernel that
     runs *this* interpreter (the project's .venv), with cwd walkthroughs/, matplotlib's
     inline backend (Agg underneath, figures sent as PNG outputs)
     and GLOW_TTS_QUICK passed through;
  2. write chapters/walkthroughs/NN_slug.md: Markdown cells as they are, code cells as
     ```python blocks (a cell tagged `plot` folded into a <details> block, its figure
     still shown), text outputs in an output box (ANSI colours stripped, long outputs
     shortened with a marker, machine-specific paths replaced), PNG/SVG figures and WAV
     audio as files in chapters/walkthroughs/img/NN_slug/, and links to the source and the
     notebook (which tools/build_book.py copies into site/notebooks/).

Results are cached in build/walkthroughs/<full|quick>/ under a content hash of the
walkthrough, the package (glow_tts/**), configs/** and this script: a walkthrough whose
inputs did not change is copied from the cache, not executed again.

Files a walkthrough makes for the build (walkthrough 15 exports its model for the Try it
page) go into the folder the kernel finds in GLOW_TTS_BOOK_ARTIFACTS:
<cache>/<slug>.artifacts/, emptied before each execution and kept with the cached page
(artifacts_dir()).

    python tools/render_walkthroughs.py [--quick] [--only 03_audio] [--timeout 900]

A cell that fails stops the build: the exit status is 1 and the message names the
walkthrough, the cell (index and first line) and the error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from walkthrough_meta import REPO, Walkthrough, find_walkthroughs  # noqa: E402

CHAPTERS = REPO / "chapters"
OUTPUT_DIR = CHAPTERS / "walkthroughs"
CACHE_ROOT = REPO / "build" / "walkthroughs"
KERNEL_NAME = "glow-tts-venv"
RENDER_VERSION = "4"  # bump to invalidate every cached page when the page format changes
# A code cell tagged `plot` (`# %% tags=["plot"]` in the percent file) only draws a figure:
# its code is rendered collapsed, its outputs (the figure) stay in view.
PLOT_TAG = "plot"
PLOT_SUMMARY = "Plotting code (click to show)"

MAX_OUTPUT_LINES = 60  # longer outputs keep their head and tail around a marker
HEAD_LINES = 35
TAIL_LINES = 15
MAX_LINE_CHARS = 1000

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[@-Z\\-_]")
AUDIO_DATA = re.compile(r"data:audio/(?:x-)?wav;base64,([A-Za-z0-9+/=\s]+)")
MEMORY_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]{6,16}")


class WalkthroughFailed(RuntimeError):
    """A cell raised (or timed out); the message is meant for the reader of the build log."""


# ---------------------------------------------------------------------------------------
# Cleaning text outputs
# ---------------------------------------------------------------------------------------

def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text)


def _path_replacements() -> list[tuple[str, str]]:
    """(absolute prefix, placeholder) pairs, most specific first."""
    import site
    import sysconfig

    pairs: list[tuple[str, str]] = []
    for site_dir in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                     *site.getsitepackages()}:
        pairs.append((str(Path(site_dir)), "<site-packages>"))
    pairs.append((str(REPO), "<repo>"))
    for prefix in {sys.base_prefix, sys.prefix}:
        if prefix not in ("/", "/usr"):
            pairs.append((str(Path(prefix).resolve()), "<python>"))
    pairs.append((str(Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}."
                      f"{sys.version_info.minor}"), "<python-stdlib>"))
    home = str(Path.home())
    if home not in ("/", ""):
        pairs.append((home, "~"))
    pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
    return pairs


PATH_REPLACEMENTS = _path_replacements()
TEMP_PATH = re.compile(
    r"(?:/tmp|/var/tmp|/dev/shm|" + re.escape(tempfile.gettempdir()) + r")"
    r"((?:/[^\s'\"<>:,;()\[\]{}]+)+)")
OTHER_CHECKOUT = re.compile(r"/work/[A-Za-z0-9_.\-]+")


def _temp_placeholder(match: re.Match) -> str:
    """/tmp/tmpab12/x/y.wav → <tmp>/x/y.wav: the random first folder means nothing."""
    parts = match.group(1).strip("/").split("/")
    return "<tmp>/" + "/".join(parts[1:] if len(parts) > 1 else parts)


def remove_machine_paths(text: str, repo: Path | None = None) -> str:
    """Replace absolute paths that only mean something on the machine that built the book.

    /tmp/tmpab12/x/y.wav → <tmp>/x/y.wav; the repository root → <repo>; site-packages →
    <site-packages>; the home directory → ~.
    """
    replacements = PATH_REPLACEMENTS
    if repo is not None:
        replacements = sorted([(str(repo), "<repo>"), *replacements],
                              key=lambda pair: len(pair[0]), reverse=True)
    for prefix, placeholder in replacements:
        text = text.replace(prefix, placeholder)
    text = TEMP_PATH.sub(_temp_placeholder, text)
    text = OTHER_CHECKOUT.sub("<repo>", text)
    return text


def shorten(text: str, max_lines: int = MAX_OUTPUT_LINES, head: int = HEAD_LINES,
            tail: int = TAIL_LINES, max_line_chars: int = MAX_LINE_CHARS) -> str:
    """Keep long outputs readable: head and tail lines around a marker, long lines cut."""
    lines = text.split("\n")
    cut_lines = []
    for line in lines:
        if len(line) > max_line_chars:
            hidden = len(line) - max_line_chars
            line = f"{line[:max_line_chars - 200]} … [{hidden} characters omitted] … {line[-200:]}"
        cut_lines.append(line)
    lines = cut_lines
    if len(lines) > max_lines:
        omitted = len(lines) - head - tail
        lines = [*lines[:head], f"… [{omitted} lines omitted] …", *lines[-tail:]]
    return "\n".join(lines)


def clean_text(text: str, repo: Path | None = None) -> str:
    text = strip_ansi(text)
    text = text.replace("\r\n", "\n")
    # Progress bars rewrite their line with \r: keep what the terminal would finally show.
    text = "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))
    text = remove_machine_paths(text, repo)
    text = MEMORY_ADDRESS.sub("", text)
    return shorten(text.rstrip("\n"))


# ---------------------------------------------------------------------------------------
# Notebook → Markdown
# ---------------------------------------------------------------------------------------

def _fence_for(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _text_box(text: str, css_class: str = "nb-output") -> str:
    fence = _fence_for(text)
    return f'<div class="{css_class}">\n\n{fence}text\n{text}\n{fence}\n\n</div>\n'


def _source_of(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _collapsed(code_block: str) -> str:
    """A plotting cell's code, folded away under a one-line summary.

    The blank lines around the fenced block make mdBook (CommonMark) end the HTML block and
    parse the fence as Markdown, so the code is highlighted like any other cell when opened.
    """
    return (f'<details class="nb-plot">\n<summary>{PLOT_SUMMARY}</summary>\n\n'
            f"{code_block}\n</details>\n")


@dataclass
class PageWriter:
    """Turns one executed notebook into Markdown plus media files."""

    walkthrough: Walkthrough
    media_dir: Path  # where PNG/SVG/WAV files go
    media_link: str  # the same folder, relative to the page
    source_link: str
    notebook_link: str
    repo: Path | None = None

    def __post_init__(self) -> None:
        self.media_count = 0

    def _media_name(self, cell_index: int, suffix: str) -> str:
        self.media_count += 1
        return f"cell{cell_index:03d}-{self.media_count:02d}{suffix}"

    def _write_media(self, cell_index: int, suffix: str, payload: bytes) -> str:
        self.media_dir.mkdir(parents=True, exist_ok=True)
        name = self._media_name(cell_index, suffix)
        (self.media_dir / name).write_bytes(payload)
        return f"{self.media_link}/{name}"

    def _rich_output(self, cell_index: int, data: dict) -> str | None:
        html = data.get("text/html")
        if isinstance(html, list):
            html = "".join(html)
        if html and "<audio" in html:
            match = AUDIO_DATA.search(html)
            if match:
                wav = base64.b64decode(re.sub(r"\s+", "", match.group(1)))
                link = self._write_media(cell_index, ".wav", wav)
                return (f'<div class="nb-audio">\n<audio controls preload="metadata" '
                        f'src="{link}"></audio>\n</div>\n')
        if "image/png" in data:
            png = base64.b64decode(re.sub(r"\s+", "", "".join(data["image/png"])))
            link = self._write_media(cell_index, ".png", png)
            return f'<div class="nb-figure">\n\n![figure]({link})\n\n</div>\n'
        if "image/svg+xml" in data:
            svg = "".join(data["image/svg+xml"]).encode("utf-8")
            link = self._write_media(cell_index, ".svg", svg)
            return f'<div class="nb-figure">\n\n![figure]({link})\n\n</div>\n'
        if "text/markdown" in data:
            return "".join(data["text/markdown"]).rstrip() + "\n"
        return None

    def _outputs(self, cell_index: int, outputs: list) -> list[str]:
        blocks: list[str] = []
        pending_stream: tuple[str, list[str]] | None = None

        def flush() -> None:
            nonlocal pending_stream
            if pending_stream is not None:
                name, parts = pending_stream
                text = clean_text("".join(parts), self.repo)
                if text.strip():
                    css = "nb-output nb-stderr" if name == "stderr" else "nb-output"
                    blocks.append(_text_box(text, css))
                pending_stream = None

        for output in outputs:
            kind = output.get("output_type")
            if kind == "stream":
                name = output.get("name", "stdout")
                text = output.get("text", "")
                text = "".join(text) if isinstance(text, list) else text
                if pending_stream is not None and pending_stream[0] == name:
                    pending_stream[1].append(text)
                else:
                    flush()
                    pending_stream = (name, [text])
                continue
            flush()
            if kind in ("execute_result", "display_data"):
                data = output.get("data", {})
                rich = self._rich_output(cell_index, data)
                if rich is not None:
                    blocks.append(rich)
                elif "text/plain" in data:
                    text = clean_text("".join(data["text/plain"]), self.repo)
                    if text.strip():
                        blocks.append(_text_box(text))
            elif kind == "error":
                traceback = "\n".join(output.get("traceback", [])) or (
                    f"{output.get('ename')}: {output.get('evalue')}")
                blocks.append(_text_box(clean_text(traceback, self.repo), "nb-output nb-stderr"))
        flush()
        return blocks

    def _links_box(self) -> str:
        return (f'<div class="wt-source">\n\n'
                f"Source: [`walkthroughs/{self.walkthrough.slug}.py`]({self.source_link}) · "
                f"Notebook: [`{self.walkthrough.slug}.ipynb`]({self.notebook_link}) "
                f"(or open the `.py` in JupyterLab with `make lab`)\n\n</div>\n")

    def markdown(self, nb) -> str:
        parts: list[str] = []
        links_written = False
        for index, cell in enumerate(nb.cells):
            tags = _tags(cell)
            if "remove-cell" in tags:
                continue
            source = _source_of(cell)
            if cell.cell_type == "markdown":
                text = source.rstrip() + "\n"
                if not links_written:
                    # Put the links right under the page's first heading.
                    lines = text.split("\n")
                    for line_no, line in enumerate(lines):
                        if line.startswith("#"):
                            lines.insert(line_no + 1, "\n" + self._links_box())
                            break
                    else:
                        lines.insert(0, self._links_box())
                    text = "\n".join(lines)
                    links_written = True
                parts.append(text)
            elif cell.cell_type == "code":
                if source.strip() and "remove-input" not in tags:
                    fence = _fence_for(source)
                    block = f"{fence}python\n{source.rstrip()}\n{fence}\n"
                    if PLOT_TAG in tags:
                        block = _collapsed(block)
                    parts.append(block)
                if "remove-output" not in tags:
                    parts.extend(self._outputs(index, cell.get("outputs", [])))
            elif cell.cell_type == "raw":
                continue
        if not links_written:
            parts.insert(0, self._links_box())
        return "\n".join(parts)


# ---------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------

def ensure_kernelspec(root: Path) -> str:
    """A kernelspec that runs this interpreter, in a private JUPYTER_PATH entry.

    Naming the kernel explicitly avoids picking up some other `python3` kernel installed
    for the user or system-wide.
    """
    spec_dir = root / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (glow-tts .venv)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return str(root)


def first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:120]
    return "(empty cell)"


def execute_notebook(nb, workdir: Path, label: str, timeout: int, quick: bool,
                     kernel_log: Path | None = None, artifacts: Path | None = None):
    """Execute `nb` in place. Raises WalkthroughFailed naming the cell on any error.

    The kernel process's own stdout/stderr (not the cells' output, which arrives through
    Jupyter messages) goes to `kernel_log`, so start-up chatter stays out of the build
    log; its tail is quoted if the kernel dies.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    state = {"index": None}

    def on_cell_start(cell, cell_index, **_):
        state["index"] = cell_index

    with tempfile.TemporaryDirectory(prefix="glow-tts-kernels-") as jupyter_dir:
        env_updates = {
            "JUPYTER_PATH": ensure_kernelspec(Path(jupyter_dir)),
            "JUPYTER_PLATFORM_DIRS": "1",
            # Figures must come back as image/png outputs: the inline backend (Agg
            # underneath, no display needed) sends every figure shown to the notebook.
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "GLOW_TTS_QUICK": "1" if quick else "0",
            "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", ""),
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "GLOW_TTS_BOOK_ARTIFACTS": str(artifacts) if artifacts is not None else "",
        }
        saved = {key: os.environ.get(key) for key in env_updates}
        os.environ.update(env_updates)  # the kernel process inherits this environment
        try:
            nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "language": "python",
                                         "display_name": "Python 3 (glow-tts .venv)"}
            client = NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=timeout,
                                    startup_timeout=120, allow_errors=False,
                                    resources={"metadata": {"path": str(workdir)}},
                                    on_cell_start=on_cell_start)
            if kernel_log is not None:
                kernel_log.parent.mkdir(parents=True, exist_ok=True)
            log_file = open(kernel_log, "w") if kernel_log is not None else None
            try:
                if log_file is not None:
                    client.execute(stdout=log_file, stderr=log_file)
                else:
                    client.execute()
            except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
                index = state["index"]
                cell = nb.cells[index] if index is not None else None
                where = (f"cell {index} (starting `{first_line(_source_of(cell))}`)"
                         if cell is not None else "kernel start")
                if isinstance(err, CellExecutionError):
                    reason = f"{err.ename}: {err.evalue}"
                    detail = strip_ansi(str(err))
                elif isinstance(err, CellTimeoutError):
                    reason = f"timed out after {timeout} s"
                    detail = str(err)
                else:
                    reason = f"the kernel died: {err}"
                    detail = ""
                    if log_file is not None:
                        log_file.flush()
                        detail = f"kernel log ({kernel_log}):\n" + kernel_log.read_text(
                            errors="replace")[-3000:]
                raise WalkthroughFailed(
                    f"walkthrough {label} failed in {where}: {reason}\n{detail[-4000:]}") from None
            finally:
                if log_file is not None:
                    log_file.close()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return nb


# ---------------------------------------------------------------------------------------
# Caching
# ---------------------------------------------------------------------------------------

def _package_files(repo: Path) -> list[Path]:
    files: list[Path] = []
    for folder in ("glow_tts", "configs"):
        base = repo / folder
        if base.is_dir():
            files.extend(p for p in base.rglob("*") if p.is_file()
                         and "__pycache__" not in p.parts and p.suffix not in (".pyc",))
    helpers = repo / "walkthroughs" / "figures.py"   # the walkthroughs' plotting helpers
    if helpers.is_file():
        files.append(helpers)
    return sorted(files)


def package_digest(repo: Path = REPO) -> str:
    digest = hashlib.sha256()
    for path in _package_files(repo):
        digest.update(str(path.relative_to(repo)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def content_hash(walkthrough: Walkthrough, quick: bool, package: str) -> str:
    digest = hashlib.sha256()
    digest.update(RENDER_VERSION.encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(package.encode())
    digest.update(b"quick" if quick else b"full")
    digest.update(walkthrough.path.read_bytes())
    return digest.hexdigest()


def cache_dir(quick: bool) -> Path:
    return CACHE_ROOT / ("quick" if quick else "full")


def artifacts_dir(slug: str, quick: bool) -> Path:
    """Where the kernel of walkthrough `slug` writes files the build uses (see the top)."""
    return cache_dir(quick) / f"{slug}.artifacts"


# ---------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------

def render_one(walkthrough: Walkthrough, quick: bool, timeout: int, package: str,
               force: bool = False, log=print) -> bool:
    """Render one walkthrough into the cache. Returns True when it was executed."""
    import jupytext
    import nbformat

    cache = cache_dir(quick)
    stamp = cache / f"{walkthrough.slug}.stamp"
    page = cache / f"{walkthrough.slug}.md"
    executed = cache / f"{walkthrough.slug}.ipynb"
    digest = content_hash(walkthrough, quick, package)
    if (not force and stamp.is_file() and stamp.read_text().strip() == digest
            and page.is_file() and executed.is_file()):
        log(f"  {walkthrough.slug}: unchanged, cached page reused")
        return False

    started = time.monotonic()
    log(f"  {walkthrough.slug}: executing{' (GLOW_TTS_QUICK=1)' if quick else ''} …")
    nb = jupytext.read(walkthrough.path)
    stamp.unlink(missing_ok=True)   # the artifacts are about to change
    artifacts = artifacts_dir(walkthrough.slug, quick)
    if artifacts.exists():
        shutil.rmtree(artifacts)
    artifacts.mkdir(parents=True)
    execute_notebook(nb, walkthrough.path.parent, f"walkthroughs/{walkthrough.path.name}",
                     timeout, quick, kernel_log=cache / f"{walkthrough.slug}.kernel.log",
                     artifacts=artifacts)

    media_dir = cache / "img" / walkthrough.slug
    if media_dir.exists():
        shutil.rmtree(media_dir)
    writer = PageWriter(walkthrough, media_dir=media_dir,
                        media_link=f"img/{walkthrough.slug}",
                        source_link=f"../notebooks/{walkthrough.slug}.py",
                        notebook_link=f"../notebooks/{walkthrough.slug}.ipynb")
    cache.mkdir(parents=True, exist_ok=True)
    page.write_text(writer.markdown(nb), encoding="utf-8")
    # The notebook readers download: executed outputs kept, our private kernel name not.
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    nbformat.write(nb, executed)
    stamp.write_text(digest + "\n")
    seconds = time.monotonic() - started
    (cache / f"{walkthrough.slug}.seconds").write_text(f"{seconds:.1f}\n")
    log(f"  {walkthrough.slug}: done in {seconds:.1f} s")
    return True


def sync_pages(walkthroughs: list[Walkthrough], quick: bool, out_dir: Path = OUTPUT_DIR) -> None:
    """Make chapters/walkthroughs/ hold exactly the current walkthroughs' pages."""
    cache = cache_dir(quick)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "img").mkdir(parents=True)
    for walkthrough in walkthroughs:
        shutil.copy2(cache / f"{walkthrough.slug}.md", out_dir / f"{walkthrough.slug}.md")
        media = cache / "img" / walkthrough.slug
        if media.is_dir():
            shutil.copytree(media, out_dir / "img" / walkthrough.slug)


def _render_in_child(walkthrough: Walkthrough, quick: bool, timeout: int, package: str,
                     force: bool) -> tuple[str, str | None]:
    """Worker-process entry: returns (slug, error message or None)."""
    try:
        render_one(walkthrough, quick, timeout, package, force=force)
    except WalkthroughFailed as err:
        return walkthrough.slug, str(err)
    return walkthrough.slug, None


def default_jobs() -> int:
    """Two walkthroughs at a time on a machine with at least two cores: most of a
    walkthrough's time is kernel start-up and imports, which overlap well."""
    return max(1, min(2, os.cpu_count() or 1))


def render_all(quick: bool, timeout: int = 900, only: list[str] | None = None,
               force: bool = False, jobs: int | None = None, log=print) -> list[Walkthrough]:
    walkthroughs = find_walkthroughs()
    if only:
        unknown = set(only) - {w.slug for w in walkthroughs}
        if unknown:
            raise SystemExit(f"no such walkthrough: {', '.join(sorted(unknown))}")
    package = package_digest()
    log(f"Rendering {len(walkthroughs)} walkthrough(s) into chapters/walkthroughs/")
    selected = [w for w in walkthroughs if not only or w.slug in only]
    jobs = jobs or default_jobs()
    if jobs <= 1 or len(selected) <= 1:
        for walkthrough in selected:
            render_one(walkthrough, quick, timeout, package, force=force, log=log)
    else:
        import concurrent.futures
        import multiprocessing

        # fork: the children inherit this module as loaded (tools/ is not a package)
        context = multiprocessing.get_context("fork")
        # Longest first (by the last run's time), so a long walkthrough does not start last
        # and leave the other worker idle.
        def last_seconds(walkthrough: Walkthrough) -> float:
            record = cache_dir(quick) / f"{walkthrough.slug}.seconds"
            try:
                return float(record.read_text())
            except (OSError, ValueError):
                return 0.0

        order = sorted(selected, key=last_seconds, reverse=True)
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
            futures = [pool.submit(_render_in_child, w, quick, timeout, package, force)
                       for w in order]
            for future in futures:  # the first failure (in submission order) is reported
                slug, error = future.result()
                if error is not None:
                    for other in futures:
                        other.cancel()  # those not started yet; running ones finish
                    raise WalkthroughFailed(error)
    if not only:
        sync_pages(walkthroughs, quick)
    return walkthroughs


def quick_from_env() -> bool:
    return os.environ.get("GLOW_TTS_QUICK", "0") not in ("", "0", "false", "False")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", default=quick_from_env(),
                        help="set GLOW_TTS_QUICK=1 in the kernels (default: from the env)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--only", nargs="*", help="render only these slugs (no page sync)")
    parser.add_argument("--force", action="store_true", help="ignore the cache")
    parser.add_argument("--jobs", type=int, default=default_jobs(),
                        help="walkthroughs executed at the same time")
    args = parser.parse_args(argv)
    try:
        render_all(args.quick, args.timeout, args.only, args.force, jobs=args.jobs)
    except WalkthroughFailed as err:
        print(f"ERROR {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
