"""Validation: is the cluster healthy now, and if not, exactly what and where.

Importable pieces (the CLI, validation/validate_checkpoint.py, checkpoint 06 and the REST API
of issue 6 all use these):
- spec.load_spec(inventory) -> ClusterSpec: what the inventory says should run where.
- collect.Collector(spec, options).collect() -> Observations: every source read in parallel
  (Ray's dashboard API, Prometheus' API, node exporters over HTTP; one SSH probe per host
  through a shared connection for what HTTP cannot show).
- checks.evaluate(spec, observations, options) -> Report: pure functions, one per check.
- report.Report: the result; report.to_dict() follows REPORT_SCHEMA; exit_code 0/1/2.
- render.text(report): the text form.
- validate(...): all of the above in one call.
"""

from pathlib import Path

REPORT_SCHEMA = Path(__file__).with_name("report.schema.json")
