"""The scheduling examples in examples/jobs/ do what their comments say when copied as they are."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

JOBS = Path(__file__).resolve().parents[1] / "examples" / "jobs"


def test_the_crontab_exports_the_secrets_it_reads_from_the_env_file(tmp_path):
    """/etc/careplug/env is the systemd EnvironmentFile (KEY=value lines): careplug, a child
    process, must see them; a plain `. file` sets them in the shell only."""
    env_file = tmp_path / "env"
    env_file.write_text("ZENDESK_API_TOKEN=abc\nHUBSPOT_ACCESS_TOKEN=pat-1\n")
    line = next(l for l in (JOBS / "crontab").read_text().splitlines() if l.startswith("*/10"))
    command = line.split(None, 6)[6]                 # five time fields and the user, then the command
    setup = command[:command.index("flock")].replace("/etc/careplug/env", str(env_file))
    child = f"{shlex.quote(sys.executable)} -c 'import os; print(os.environ.get(\"ZENDESK_API_TOKEN\"), " \
            f"os.environ.get(\"HUBSPOT_ACCESS_TOKEN\"))'"
    out = subprocess.run(["sh", "-c", setup + child], capture_output=True, text=True,
                         env={"PATH": os.environ["PATH"]})
    assert out.stdout.split() == ["abc", "pat-1"], out.stderr


def test_the_systemd_unit_and_the_cronjob_take_the_secrets_from_the_environment():
    service = (JOBS / "careplug.service").read_text()
    assert "EnvironmentFile=/etc/careplug/env" in service and "SuccessExitStatus=4" in service
    assert "secretRef" in (JOBS / "cronjob.yaml").read_text()
