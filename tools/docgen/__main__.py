import sys

from tools.docgen.cli import main

sys.exit(main())
