"""The documentation holds to the code: the settings reference is what crawler/settingsdoc.py
writes now, the sessions in docs/commands.md are what the commands print against the
scripted site, and every relative link leads to a file and heading that exist.

To re-record docs/commands.md after a deliberate change of output:
``python -m tests.test_docs --record`` (it runs the session and writes the outputs in).
"""

from __future__ import annotations

import re
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import requests

from crawler import settingsdoc
from tests.conftest import ROOT, Workspace
from tests.mockserver import MockServer

COMMANDS = ROOT / "docs" / "commands.md"
CONSOLE = re.compile(r"^```console\n(.*?)^```$", re.S | re.M)
# The documented session ran in this folder; the replay's own temporary folder is shown so.
SESSION_DIR = "/tmp/session"


@dataclass
class Step:
    command: str
    output: list[str] = field(default_factory=list)


def steps(markdown: str) -> list[Step]:
    """The ``$ ...`` lines of every console block, each with the lines printed after it."""
    found: list[Step] = []
    for block in CONSOLE.findall(markdown):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append(Step(line[2:]))
            elif found:
                found[-1].output.append(line)
    return found


class Session:
    """Runs documented commands one after the other in one workspace, against one site."""

    def __init__(self, workspace: Workspace, site: MockServer) -> None:
        self.workspace = workspace
        self.site = site
        self.returncode = 0

    def here(self, text: str) -> str:
        """A documented command or file with the recorded site's address made this one's."""
        return re.sub(r"http://127\.0\.0\.1:\d+", self.site.base, text)

    def run(self, step: Step) -> list[str]:
        argv = shlex.split(self.here(step.command))
        if argv[0] == "export":
            return []
        if argv == ["echo", "$?"]:
            return [str(self.returncode)]
        if argv[0] == "curl":
            url = next(arg for arg in argv if arg.startswith("http"))
            requests.post(url, timeout=10).raise_for_status()
            return []
        if argv[0] == "cat":
            path = self.workspace.path / argv[1]
            if not path.exists():
                # The first `cat` of a file the session has not written shows the document
                # the session starts from: the replay writes it.
                path.write_text(self.here("\n".join(step.output)) + "\n", encoding="utf-8")
            return path.read_text(encoding="utf-8").splitlines()
        if argv[0] != "evidence":
            raise AssertionError(f"docs/commands.md: the replay does not know how to run {step.command!r}")
        if "--help" in argv:
            # In process: fourteen more interpreters would double the replay's time.
            from click.testing import CliRunner

            from cli import cli

            # 78: what click wraps help at on an 80-column terminal or in a pipe (CliRunner
            # would otherwise use all 80).
            helped = CliRunner().invoke(cli, argv[1:], prog_name="evidence", terminal_width=78, catch_exceptions=False)
            self.returncode = helped.exit_code
            return helped.output.splitlines()
        result = self.workspace.run(*argv[1:], timeout=60)
        self.returncode = result.returncode
        text = result.stderr + result.stdout
        return text.replace(str(self.workspace.path), SESSION_DIR).splitlines()


VOLATILE = [
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"evidence-[\w-]+?\.warc\.gz(\.open)?(#\d+)?"), "WARC#OFFSET"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "TIME"),
    (re.compile(r"\d{4}-\d\d-\d\d"), "DATE"),
    (re.compile(r"(sha1|sha256):[A-Za-z0-9]+"), r"\1:DIGEST"),
    (re.compile(r"^Date: .*$"), "Date: DATE"),
    (re.compile(r"Python/\S+"), "Python/VERSION"),
    (re.compile(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d"), "CLOCK"),
    (re.compile(r"\d{8,}"), "NUMBER"),
    (re.compile(r"pid \d+ on \S+"), "pid PID on HOST"),
    (re.compile(r'"(capture_id|id|run_id)": \d+'), r'"\1": ID'),
    # How many soft-404 probes and noise re-fetches a run makes depends on which answer
    # comes first; the records they add are counted here.
    (re.compile(r"verified \d+ records"), "verified N records"),
    (re.compile(r"_files/\d+\."), "_files/ID."),
    (re.compile(r"-{3,}"), "---"),
    # Columns are as wide as their widest cell, which the lines above changed.
    (re.compile(r" {2,}"), "  "),
]


def normalise(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        for pattern, replacement in VOLATILE:
            line = pattern.sub(replacement, line)
        out.append(line.rstrip())
    return out


def replay(markdown: str, workdir: Path) -> tuple[list[tuple[Step, list[str]]], str]:
    """Every documented step with what it prints now, and the site's address."""
    with MockServer() as site:
        session = Session(Workspace(workdir), site)
        return [(step, session.run(step)) for step in steps(markdown)], site.base


def test_command_examples_are_real_output(tmp_path: Path) -> None:
    markdown = COMMANDS.read_text(encoding="utf-8")
    documented = steps(markdown)
    commands = {shlex.split(step.command)[:2][-1] for step in documented if step.command.startswith("evidence")}
    assert {"crawl", "status", "history", "diff", "show", "verify", "import", "ack", "report", "annotate"} <= commands
    assert any("--headers" in step.command for step in documented) and any("--json" in step.command for step in documented)
    for step, printed in replay(markdown, tmp_path)[0]:
        assert normalise(printed) == normalise(step.output), f"$ {step.command}"


def test_the_normalisation_keeps_what_matters() -> None:
    """A changed word, count or column is still a difference once the volatile parts go."""
    recorded = ["run 2 finished: 5 URLs checked (1 changed, 2 gone, 2 ok)", "informe.md  1  http://127.0.0.1:4577/plan  ok"]
    elsewhere = ["run 2 finished: 5 URLs checked (1 changed, 2 gone, 2 ok)", "informe.md  1    http://127.0.0.1:39001/plan  ok"]
    assert normalise(recorded) == normalise(elsewhere)
    assert normalise(recorded) != normalise(["run 2 finished: 5 URLs checked (1 changed, 2 gone, 3 ok)", recorded[1]])
    assert normalise(recorded) != normalise([recorded[0], "informe.md  1  http://127.0.0.1:4577/plan  ok  extra"])


def test_settings_reference_is_generated_from_settings_py() -> None:
    source = settingsdoc.SOURCE.read_text(encoding="utf-8")
    assert settingsdoc.undocumented(source) == [], "give each setting a #: comment in crawler/settings.py"
    written = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert written == settingsdoc.render(source), "regenerate: python -m crawler.settingsdoc > docs/settings.md"


def test_settings_reference_has_every_setting() -> None:
    """Checked against the module as Python sees it, not as the generator parses it."""
    from crawler import settings

    names = {name for name in vars(settings) if name.isupper()}
    written = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert {name for name in names if f"### `{name}`" not in written} == set()


LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(markdown: str) -> set[str]:
    """The ids a forge gives the file's headings, and the explicit <a id>s."""
    found = set(re.findall(r'<a id="([^"]+)"', markdown))
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            found.add(settingsdoc._slug(line.lstrip("#")))
    return found


def test_relative_links_lead_somewhere() -> None:
    pages = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        prose = re.sub(r"^```.*?^```$", "", text, flags=re.S | re.M)
        prose = re.sub(r"`[^`\n]*`", "", prose)
        for target in LINK.findall(prose):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text(encoding="utf-8")):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def record() -> None:
    """Write what the commands print now into docs/commands.md's console blocks."""
    markdown = COMMANDS.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as workdir:
        done, base = replay(markdown, Path(workdir))
        printed = iter(done)

        def block(match: re.Match[str]) -> str:
            lines = []
            for line in match.group(1).splitlines():
                if line.startswith("$ "):
                    step, output = next(printed)
                    lines += [line, *(step.output if step.command.startswith("cat ") and not output else output)]
            lines = [re.sub(r"http://127\.0\.0\.1:\d+", base, line) for line in lines]
            return "```console\n" + "\n".join(lines) + "\n```"

        COMMANDS.write_text(CONSOLE.sub(block, markdown), encoding="utf-8")


if __name__ == "__main__" and "--record" in sys.argv:
    record()
