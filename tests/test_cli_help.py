"""`vtr-perception <command> --help` for every command: argparse formats each help text only when asked."""

from __future__ import annotations

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
