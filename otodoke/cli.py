"""The ``otodoke`` console command (and ``python -m otodoke.cli``): Flask's CLI over the factory, with
the ops commands the factory registers (``otodoke/commands.py``)."""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup, shell_command

from otodoke import create_app


def _create_app() -> Flask:
    return create_app()


def main() -> None:
    cli = FlaskGroup(create_app=_create_app, add_default_commands=False,
                     help="お届け (Otodoke) — operations commands.")
    cli.add_command(shell_command)
    cli.main(prog_name="otodoke")


if __name__ == "__main__":
    main()
