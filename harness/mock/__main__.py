"""``python -m harness.mock``: run the mock server (see `harness.mock.cli`).

Standard library only; it must not import the harness core (the mock is the yardstick).
"""

from harness.mock.cli import main

raise SystemExit(main())
