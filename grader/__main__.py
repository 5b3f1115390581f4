"""``python -m grader COMMAND``: the same as ``python -m grader.pipeline COMMAND``."""

import sys

from grader.pipeline import main

sys.exit(main())
