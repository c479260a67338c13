"""Run a probe as a Ray task pinned to each ALIVE node of a sandbox cluster, so a test sees
every node's own answer (environment, installed packages), not whichever node Ray picked."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

MARK = "EVERY_NODE "  # how the script's answer line starts
SCRIPT = """
import json, ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

def probe():
{body}

@ray.remote(num_cpus=0)
def where():
    return ray.get_runtime_context().get_node_id(), probe()

ray.init()
nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
pinned = [where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False)).remote()
          for n in nodes]
print("EVERY_NODE " + json.dumps(dict(ray.get(pinned))))
"""


def run_on_every_node(cluster, workdir: Path, body: str) -> dict:
    """node_id -> what `body` (a function body ending in `return`) returned on that node.

    The job goes through `ray job submit` (SandboxCluster.submit) with `workdir` as its working
    dir; a failed job fails the test with its output."""
    code = SCRIPT.replace("{body}", textwrap.indent(textwrap.dedent(body).strip(), "    "))
    (workdir / "every_node.py").write_text(code)
    proc = cluster.submit("python", "every_node.py", working_dir=workdir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith(MARK))
    return json.loads(line.removeprefix(MARK))
