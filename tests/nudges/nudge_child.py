"""One ``run_nudges`` in its own process, for the crash tests (``CAREPLUG_FAILPOINT`` kills it).

Usage: python nudge_child.py STORE_PATH CRM_URL NOW_ISO [CHUNK]
Prints the result as JSON.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from careplug.nudges.delivery import run_nudges

from nudge_app import make_app

if __name__ == "__main__":
    store_path, crm_url, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
    chunk = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    app = make_app(store_path, crm_url, chunk=chunk)
    result = run_nudges(app, now)
    print(json.dumps(result.as_dict()))
    sys.exit(0 if result.ok else 1)
