"""``python -m dybench.train METHOD ...`` = ``dybench train METHOD ...``, for ``accelerate launch -m``."""

import sys

from dybench.cli import app

app(["train", *sys.argv[1:]])
