"""The Sphinx documentation builds warning-free, its configuration reference is the schema, and
the physics reference the code cites is the repository's own, numbered docs/physics.md."""

from __future__ import annotations

import dataclasses
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

DOCS = REPO / "docs"
#: where the physics reference is cited: code, tests, docs and benchmarks
CITING = ("fortran", "stilt", "tests", "docs", "bench", "scripts", "examples")
#: a section of docs/physics.md, as cited: "§4", "§4.2"; in Fortran "sec. 4.2" (f2py reads the
#: wrapper sources with the locale's codec, ASCII on a bare machine, so they stay ASCII)
SECTION = re.compile(r"(?:§|\bsec\. )(\d+(?:\.\d+)?)")
#: a mention of physics.md in code, followed (across a comment line break) by its section
CITED = re.compile(r"physics\.md\)?(?:\s|!|#|\*)*(?:§|sec\. )")


def _numbered_sections(page: Path) -> set[str]:
    """The numbers of the headings "## 4. Title" and "### 4.2 Title" of a Markdown page."""
    return {m.group(1) for m in re.finditer(r"^#{2,4} (\d+(?:\.\d+)?)\.? ", page.read_text(),
                                            re.M)}


def _text_files(folders: tuple[str, ...]) -> list[Path]:
    """Source and documentation files of the repository under ``folders`` and at the top."""
    skip = {".venv", ".venv-pystilt", "build", "_build", "__pycache__", ".git"}
    suffixes = {".py", ".f90", ".md", ".sh", ".toml", ".yaml", ".build", ".options", ".txt",
                ".cfg", ".rst"}
    files = [f for f in REPO.iterdir() if f.is_file() and f.suffix in suffixes]
    for folder in folders:
        for f in (REPO / folder).rglob("*"):
            parts = f.relative_to(REPO).parts  # any reference venv (.venv-pystilt-a4 ...)
            if f.suffix in suffixes and f.is_file() and not any(
                    p in skip or p.startswith(".venv") for p in parts):
                files.append(f)
    return [f for f in files if f.resolve() != Path(__file__).resolve()]


def _build(src: Path, out: Path, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """sphinx-build -W -b html, in a fresh interpreter (optionally after ``prelude`` code)."""
    code = (f"{prelude}\nimport sys\nfrom sphinx.cmd.build import main\n"
            f"sys.exit(main(['-W', '--keep-going', '-q', '-b', 'html', {str(src)!r}, "
            f"{str(out)!r}]))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=REPO)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    run = _build(DOCS, out)
    assert run.returncode == 0, f"sphinx-build -W failed:\n{run.stdout}\n{run.stderr}"
    return out


def test_docs_build_without_warnings_and_every_page_is_in_the_site(built: Path) -> None:
    pages = sorted(p.stem for p in DOCS.glob("*.md"))
    assert {"index", "getting-started", "configuration", "physics", "validation", "api",
            "executors", "outputs"} <= set(pages)
    index = (built / "index.html").read_text()
    for page in pages:
        assert (built / f"{page}.html").is_file(), page
        if page != "index":
            assert f'href="{page}.html"' in index, f"{page} is not in the toctree"
    # figures are in the site, equations went through MathJax, the API has the docstrings
    for name in ("example_summary.png", "ngm_oct1618_maps.png",
                 "synth_hrrrlike_height.png"):
        assert (built / "_images" / name).is_file(), name
    assert "mathjax" in (built / "physics.html").read_text().lower()
    api = (built / "api.html").read_text()
    for name in ("run_trajectories", "calc_footprint", "Model", "plot_mean", "Simulation"):
        assert 'id="stilt.' in api and name in api, name
    assert "Map one simulation" in api  # a docstring sentence, rendered


def test_configuration_page_lists_every_schema_key(built: Path) -> None:
    from stilt import config, params
    from stilt.met.discovery import MetConfig

    page = (built / "configuration.html").read_text()
    keys = [p for p in inspect.signature(config.ModelConfig.__init__).parameters
            if p not in ("self", "params")]
    keys += [f.name for f in dataclasses.fields(config.ExecutionConfig)]
    keys += [f.name for f in dataclasses.fields(config.FootprintConfig)]
    keys += [f.name for f in dataclasses.fields(MetConfig) if f.name != "time_lister"]
    keys += list(params.PARAMETERS)
    literal = '<code class="docutils literal notranslate"><span class="pre">{}</span></code>'
    missing = [k for k in keys if literal.format(k) not in page]
    assert not missing, f"keys missing from the built reference: {missing}"


def test_every_schema_key_is_described() -> None:
    from stilt._docs import UNDOCUMENTED, config_reference_markdown

    text = config_reference_markdown()
    undocumented = [line.split("|")[1].strip() for line in text.splitlines()
                    if UNDOCUMENTED in line]
    assert not undocumented, (f"config keys without a description in their class docstring: "
                              f"{undocumented}")


def test_docstring_parameters_parser() -> None:
    from stilt._docs import docstring_parameters

    def f(a: int, b: str, c: float) -> None:
        """Do a thing.

        Parameters
        ----------
        a : int
            First line
            and second line.
        b, c : optional
            Shared.
        **more
            Extra.

        Returns
        -------
        x : int
            Not a parameter.
        """

    assert docstring_parameters(f) == {"a": ("int", "First line and second line."),
                                       "b": ("optional", "Shared."),
                                       "c": ("optional", "Shared."),
                                       "more": ("", "Extra.")}


@pytest.mark.slow
def test_a_key_added_to_the_schema_and_a_new_page_appear_in_the_site(tmp_path: Path) -> None:
    """The reference is generated at build time, and a page added to docs/ is picked up."""
    src = tmp_path / "docs"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("_build"))
    (src / "zz-new-page.md").write_text("# A page added later\n\nPicked up by the glob.\n")
    prelude = (
        "import dataclasses\n"
        "import stilt.config as config, stilt.params as params\n"
        "params.PARAMETERS['zz_new_param'] = params.Param('zz_new_param', 7, int,\n"
        "    'a parameter added to the schema', 'm', 0, 9)\n"
        "@dataclasses.dataclass(frozen=True)\n"
        "class Execution(config.ExecutionConfig):\n"
        "    '''Execution with one more key.\n\n    Parameters\n    ----------\n"
        "    zz_partition : str\n        A key added to the execution schema.\n    '''\n"
        "    zz_partition: str = 'batch'\n"
        "config.ExecutionConfig = Execution\n"
    )
    out = tmp_path / "html"
    run = _build(src, out, prelude)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    page = (out / "configuration.html").read_text()
    assert "zz_new_param" in page and "a parameter added to the schema" in page
    assert "zz_partition" in page and "A key added to the execution schema." in page
    assert 'href="zz-new-page.html"' in (out / "index.html").read_text()


def test_physics_reference_is_numbered_and_every_cited_section_exists() -> None:
    page = DOCS / "physics.md"
    sections = _numbered_sections(page)
    # the topics the code relies on have their numbered sections
    assert {"2.4", "2.6", "3.1", "4.1", "4.2", "5.1", "5.2", "5.3", "6.3", "6.4", "7.2", "8.1",
            "9", "10.2", "10.6"} <= sections, sorted(sections)
    missing, uncited = [], []
    for path in _text_files(CITING):
        text = path.read_text(errors="replace")
        name = path.relative_to(REPO)
        missing += [f"{name}: §{s}" for s in SECTION.findall(text) if s not in sections]
        # the numbering of an outside specification ("physics.md 3.7", "section 5") is gone
        uncited += [f"{name}: {m.group(0)!r}"
                    for m in re.finditer(r"physics\.md`?\)?,?\s+(?:section\s+)?\d", text)]
        if path.suffix in (".py", ".f90"):  # code cites a section, never the page alone
            for m in re.finditer(r"physics\.md", text):
                if not CITED.match(text, m.start()):
                    uncited.append(f"{name}: {text[m.start():m.start() + 30]!r}")
    assert not missing, f"sections cited but not headings of docs/physics.md: {missing}"
    assert not uncited, f"physics.md cited without a section number: {uncited}"


def test_fortran_sources_are_ascii() -> None:
    """f2py decodes the wrapper sources with the locale's codec (ASCII where LANG is unset, as
    on a fresh CI machine): a non-ASCII byte in any Fortran file stops the build."""
    bad = [f"{path.name}:{n}" for path in sorted((REPO / "fortran").glob("*.f90"))
           for n, line in enumerate(path.read_bytes().splitlines(), 1) if not line.isascii()]
    assert not bad, f"non-ASCII bytes in Fortran sources: {bad}"


def test_physics_reference_is_self_contained() -> None:
    page = (DOCS / "physics.md").read_text()
    for ref in ("Lin, J. C., C. Gerbig", "Gerbig, C., J. C. Lin", "Fasoli, B.", "Draxler, R. R.",
                "Hanna, S. R.", "Stein, A. F.", "Thomson, D. J., 1987", "Wilson, J. D.",
                "Lin, J. C., and C. Gerbig, 2005"):
        assert ref in page.split("## References")[1], ref
    offenders = []
    for path in _text_files(CITING + ("recipe",)):
        text = path.read_text(errors="replace")
        for needle in ("shared/docs", "physics_notes"):
            if needle in text:
                offenders.append(f"{path.relative_to(REPO)}: {needle}")
    assert not offenders, f"references to documents outside the repository: {offenders}"
