"""The CLI itself: `--help` of every command (argparse formats each help text only when asked), SIGUSR1."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from vtr_perception import cli


@pytest.mark.parametrize("argv", [[name] for name in cli.COMMANDS] + [["data", "build"], ["data", "loop-crops"]],
                         ids=lambda argv: " ".join(argv))  # fmt: skip
def test_help_of_every_command(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main([*argv, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ") and "--" in out


def test_sigusr1_prints_every_threads_stack_and_the_run_goes_on(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal
        from vtr_perception import cli
        status = cli.main(["data", "info", "--cache", {str(tmp_path / "missing")!r}])
        os.kill(os.getpid(), signal.SIGUSR1)
        print("still running", status)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "still running 2"
    assert "Current thread" in proc.stderr and 'File "<string>", line 5' in proc.stderr
