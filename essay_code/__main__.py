import sys

from essay_code.cli import main

sys.exit(main())
