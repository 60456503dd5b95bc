"""Every shell command of README.md and DOCS.md, run as written in a fresh clone.

A new user clones the repository, runs ``./scripts/demo`` and then pastes the README's
commands into a shell where ``.venv`` is activated, as the README says. This test does exactly
that: it clones the repository (its committed HEAD) into a temporary folder and runs the
commands of every ```sh block of both documents in order, in that folder, with the clone's
``.venv`` activated. A command that serves until interrupted (the demo without
``--duration``, the daemon) must print what shows it works, then exit 0 on Ctrl-C (SIGINT);
every other command must exit 0 on its own.

To stay fast the clone's ``.venv`` sees the packages already installed for the tests (a
``.pth`` line naming this environment's site-packages), so ``./scripts/demo``'s ``pip install``
only builds the clone's own editable package instead of downloading every dependency again.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ("README.md", "DOCS.md")

# Commands not run, with the reason. Keep this list short: every entry is a promise unchecked.
NOT_RUN = {"./scripts/test": "runs this very test suite (it is what runs this test)"}

# Commands that serve until interrupted: the output that shows they work.
SERVING: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (re.compile(r"^\./scripts/demo(\s+#.*)?$"), re.compile(r"\bPV\b.*\bkW\b")),
    (re.compile(r"^edge-mining run\b"), re.compile(r"edge-mining running")),
    (re.compile(r"^edge-mining demo --web [^#]*(\s+#.*)?$"), re.compile(r"\bPV\b.*\bkW\b")),
]
COMMAND_TIMEOUT_S = 300.0  # the first ./scripts/demo installs the package (pip)
READY_TIMEOUT_S = 120.0


def shell_commands(text: str) -> list[str]:
    """The commands of every ```sh block: one per line, ``\\`` continuations joined."""
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.M | re.S):
        pending = ""
        for line in block.splitlines():
            if line.rstrip().endswith("\\"):
                pending += line.strip()[:-1].rstrip() + " "
                continue
            command = (pending + line.strip()).strip()
            pending = ""
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def document_commands() -> list[tuple[str, str]]:
    return [
        (name, command)
        for name in DOCUMENTS
        for command in shell_commands((ROOT / name).read_text(encoding="utf-8"))
    ]


def without_comment(command: str) -> str:
    return re.sub(r"\s+#.*$", "", command)


def test_the_documents_show_the_first_hour():
    """The README keeps the commands a new user needs (the issue's list)."""
    commands = [without_comment(c) for _, c in document_commands()]
    assert any(re.match(r"\./scripts/demo .*--duration \d+", c) for c in commands)
    assert any(c.startswith("edge-mining backtest ") and "--days" in c for c in commands)
    assert any(c.startswith("edge-mining profitability ") for c in commands)
    assert any(c.startswith("edge-mining check-config examples/") for c in commands)
    assert any(c.startswith("edge-mining demo --config ") for c in commands)
    for command in commands:
        # Pasted as written: no [optional] synopsis syntax, no placeholder in capitals.
        assert not re.search(r"\s\[--", command), command
        assert not re.search(r"\b(FILE|DIR|HOST|PORT|PATH)\b", command), command


def test_shell_blocks_are_parsed_with_their_continuations():
    text = "x\n```sh\n# a comment\nedge-mining a \\\n    --b c   # note\n\nls\n```\n"
    text += "```yaml\nk: v\n```\n"
    assert shell_commands(text) == ["edge-mining a --b c   # note", "ls"]


@dataclass
class Clone:
    path: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Clone:
    if shutil.which("git") is None:
        pytest.fail("git is needed to clone the repository")
    path = tmp_path_factory.mktemp("readme") / "edge-mining"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(path)],
        check=True,
        timeout=120,
    )
    venv = path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "_edge_mining_tests_packages.pth").write_text(
        "".join(f"{p}\n" for p in sorted(ours)), encoding="utf-8"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EDGE_MINING_", "PYTHON", "VIRTUAL_ENV", "PYTEST"))
    }
    # What `source .venv/bin/activate` does.
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return Clone(path, env)


def _serving_pattern(command: str) -> re.Pattern[str] | None:
    for pattern, ready in SERVING:
        if pattern.match(command):
            return ready
    return None


def _in_clone(clone: Clone, command: str) -> dict[str, Any]:
    """How every documented command runs: bash in the clone, output and errors as one text."""
    return {
        "args": ["bash", "-c", command],
        "cwd": clone.path,
        "env": clone.env,
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.STDOUT,
        "text": True,
    }


def _run_serving(clone: Clone, command: str, ready: re.Pattern[str]) -> tuple[int, str]:
    process = subprocess.Popen(**_in_clone(clone, command), start_new_session=True)
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + COMMAND_TIMEOUT_S
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if any(ready.search(line) for line in list(lines)):
                break
            time.sleep(0.2)
        output = "".join(lines)
        assert process.poll() is None, f"{command!r} ended by itself:\n{output}"
        assert ready.search(output), f"{command!r} never printed {ready.pattern!r}:\n{output}"
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    reader.join(timeout=10)
    return code, "".join(lines)


COMMANDS = document_commands()


@pytest.mark.timeout(COMMAND_TIMEOUT_S + READY_TIMEOUT_S)
@pytest.mark.parametrize(
    ("document", "command"), COMMANDS, ids=[f"{d}:{c[:60]}" for d, c in COMMANDS]
)
def test_command_works_as_written(clone: Clone, document: str, command: str):
    if without_comment(command) in NOT_RUN:
        # Not a skip: the exception is deliberate and listed with its reason.
        assert NOT_RUN[without_comment(command)]
        return
    ready = _serving_pattern(command)
    if ready is not None:
        code, output = _run_serving(clone, command, ready)
    else:
        result = subprocess.run(**_in_clone(clone, command), timeout=COMMAND_TIMEOUT_S)
        code, output = result.returncode, result.stdout
    assert code == 0, f"{document}: {command!r} exited {code}:\n{output}"
    assert "Traceback" not in output, f"{document}: {command!r}:\n{output}"


# Placeholders of the documents' synopses, and a value of the right kind for each.
PLACEHOLDERS = {
    "PATH": "/dev/ttyUSB0",
    "HOST": "127.0.0.1",
    "NAME": "S9",
    "N": "2",
    "P": "secret",
}


def inline_commands() -> list[tuple[str, str]]:
    """Every `edge-mining ...` code span of the documents (synopses in tables and prose)."""
    spans = []
    for name in DOCUMENTS:
        text = (ROOT / name).read_text(encoding="utf-8")
        text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)  # blocks are run above
        spans += [(name, span) for span in re.findall(r"`(edge-mining [^`]+)`", text)]
    return spans


def test_every_inline_synopsis_parses_with_the_real_command_line(capsys):
    """Synopses are not run (they name placeholders), but each of their options exists:
    with the optional parts included and placeholders filled in, the CLI accepts them."""
    import shlex

    from edge_mining.cli import build_parser

    spans = inline_commands()
    assert len(spans) >= 10
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for document, span in spans:
        filled = span.replace("HOST[:PORT]", "127.0.0.1:1502")
        words = shlex.split(filled.replace("[", " ").replace("]", " "))[1:]
        words = [PLACEHOLDERS.get(word, word) for word in words]
        if len(words) == 1:  # a command named in prose
            assert words[0] in commands, (document, span)
            continue
        try:
            build_parser().parse_args(words)
        except SystemExit as exit:
            assert exit.code == 0, f"{document}: `{span}` is not a valid command line"
