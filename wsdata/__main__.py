import sys

from wsdata.cli import main

sys.exit(main())
