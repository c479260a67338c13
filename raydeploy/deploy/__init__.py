"""The checkpoint orchestrator behind deploy-master.py, `raydeploy deploy` and the REST API.

Importable pieces (the API of issue 6 uses these, not the CLI):
- store.StateDir: one cluster's state directory (atomic JSON, run lock, audit log).
- approvals.ApprovalStore: request / approve / deny / consume approvals, sealed and bound to
  a digest of what was previewed.
- orchestrator.Orchestrator: one run over the registry's checkpoints.
- RESULT_SCHEMA: the JSON schema of a run's result (--json).
"""

from pathlib import Path

RESULT_SCHEMA = Path(__file__).with_name("result.schema.json")
