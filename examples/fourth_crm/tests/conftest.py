"""Make the example importable without installing it (``pip install -e examples/fourth_crm``
also works), whichever directory pytest is run from."""

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)
