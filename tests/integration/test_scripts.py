"""The shell scripts an instructor runs: ``scripts/install.sh`` skips pip when nothing
changed (so ``scripts/run`` starts in about a second) and keeps pip's output quiet;
``scripts/link-command`` puts ``mailserver`` on PATH so the README works as written."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: Stands in for .venv/bin/python: logs pip calls (with the warning filter it got).
FAKE_PYTHON = """#!/bin/sh
if [ "$1" = "-VV" ]; then echo "Python 3.11.99 (fake)"; exit 0; fi
echo "$* PYTHONWARNINGS=$PYTHONWARNINGS" >> "$(dirname "$0")/../pip.log"
"""


def fake_checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    for script in ("install.sh", "install-build-tools.sh", "build_native.py"):
        shutil.copy(REPO / "scripts" / script, root / "scripts" / script)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("mailserver", "#!/bin/sh\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return root


def install(root: Path, *args: str) -> list[str]:
    """Run install.sh; return the pip calls it made."""
    log = root / ".venv" / "pip.log"
    before = log.read_text().splitlines() if log.exists() else []
    result = subprocess.run(
        [str(root / "scripts" / "install.sh"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "MAILSERVER_REINSTALL"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    after = log.read_text().splitlines() if log.exists() else []
    # Every install ends with the compile step (itself a no-op when up to date).
    assert after[-1].startswith("scripts/build_native.py PYTHONWARNINGS")
    return [call for call in after[len(before) :] if "pip install" in call]


def test_install_runs_pip_only_when_pyproject_changed(tmp_path: Path) -> None:
    root = fake_checkout(tmp_path)
    first = install(root, "test")
    assert first and first[-1].startswith("-m pip install --quiet")
    assert "-e .[test,native] " in first[-1]
    assert all("PYTHONWARNINGS=ignore::UserWarning" in call for call in first)
    assert install(root, "test") == []
    assert install(root) == []  # a test install has everything a plain one needs
    with (root / "pyproject.toml").open("a") as file:
        file.write("\n# a new dependency\n")
    assert install(root) != []
    assert install(root) == []


def test_link_command_puts_mailserver_on_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    env = {**os.environ, "MAILSERVER_BIN_DIR": str(bin_dir), "PATH": os.environ["PATH"]}
    link = subprocess.run(
        [str(REPO / "scripts" / "link-command")], capture_output=True, text=True, env=env
    )
    assert link.returncode == 0, link.stderr
    assert f"{bin_dir}/mailserver" in link.stdout and "not on your PATH" in link.stdout
    assert (bin_dir / "mailserver").resolve() == (REPO / "scripts" / "mailserver").resolve()
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    again = subprocess.run(
        [str(REPO / "scripts" / "link-command")], capture_output=True, text=True, env=env
    )
    assert again.returncode == 0 and again.stdout == ""
    version = subprocess.run(
        ["mailserver", "--version"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("mailserver ")


def test_link_command_leaves_a_foreign_mailserver_alone(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mailserver").write_text("#!/bin/sh\necho other\n")
    env = {**os.environ, "MAILSERVER_BIN_DIR": str(bin_dir)}
    result = subprocess.run(
        [str(REPO / "scripts" / "link-command")], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0 and "not ours" in result.stderr
    assert (bin_dir / "mailserver").read_text() == "#!/bin/sh\necho other\n"
