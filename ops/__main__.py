import sys

from ops.cli.commands import main

sys.exit(main())
