"""The `warmer` command starts on click alone: commands and their heavy imports load when run."""

from __future__ import annotations

import importlib
import subprocess
import sys

from click.testing import CliRunner

from warmer.cli import COMMANDS, cli


def test_help_lists_every_command_with_its_own_first_line() -> None:
    for name, (module, short_help) in COMMANDS.items():
        importlib.import_module(module)
        command = cli.commands[name]
        assert command.get_short_help_str(limit=200) == short_help, name
    assert set(cli.commands) == set(COMMANDS)  # no command registered outside the table


def test_help_and_version_import_no_heavy_module() -> None:
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['warmer', sys.argv[1]]\n"
        "from warmer.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'alembic', 'rich', 'celery', 'kombu', 'dulwich', 'pydantic', 'mcp', 'tornado', 'yaml'})\n"
        "print('HEAVY', heavy)\n"
    )
    for flag in ("--help", "--version"):
        done = subprocess.run([sys.executable, "-c", probe, flag], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "HEAVY []" in done.stdout, done.stdout[-500:]


def test_version_names_the_installed_distribution() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.startswith(f"warmer {version('warmer')} ")
