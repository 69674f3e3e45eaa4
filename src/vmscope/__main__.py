import sys

from vmscope.cli import main

sys.exit(main())
