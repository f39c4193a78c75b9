"""``python -m ttc_graph``: the ``ttc-graph`` command without its console script."""

import sys

from ttc_graph.cli import main

sys.exit(main())
