"""``python -m mailserver`` is the same as the ``mailserver`` command."""

from mailserver.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
