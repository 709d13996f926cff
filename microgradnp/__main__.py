"""``python -m microgradnp ...`` is the ``microgradnp`` command."""

from .cli import main

raise SystemExit(main())
