import sys

from traindev.cli import main

sys.exit(main())
