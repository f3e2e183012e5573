"""`python -m vrgmi` is the `vrgmi` command."""
import sys

from vrgmi.cli import main

sys.exit(main())
