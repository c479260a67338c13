"""The text form of a report: the verdict, one line per check (problems named per host), and
a table of per-host health (seed 002's view)."""

from __future__ import annotations

import collections

from raydeploy.validate.report import FAIL, PASS, SKIP, WARN, Report

MARK = {PASS: "ok  ", WARN: "WARN", FAIL: "FAIL", SKIP: "skip"}
ORDER = {FAIL: 0, WARN: 1, PASS: 2, SKIP: 3}


def _fmt(value, spec: str = ".0f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def text(report: Report, verbose: bool = False) -> str:
    summary = report.summary()
    lines = [
        f"{report.status.upper()} (exit {report.exit_code}): {len(report.hosts)} hosts, "
        f"{summary[PASS]} passed, {summary[WARN]} warnings, {summary[FAIL]} failed, "
        f"in {report.duration_s:.2f} s  [{report.inventory}]"
    ]
    by_check: dict[tuple[str, str], list] = collections.OrderedDict()
    for r in report.results:
        by_check.setdefault((r.checkpoint, r.check), []).append(r)
    if by_check:
        lines.append("")
        lines.append(f"{'':5}{'checkpoint':<21} {'check':<24} result")
    for (checkpoint, check), results in by_check.items():
        worst = min((r.status for r in results), key=ORDER.__getitem__)
        counted = [r for r in results if r.status != SKIP]
        bad = [r for r in results if r.status in (WARN, FAIL)]
        if not bad:
            detail = (
                results[0].message
                if len(results) == 1
                else f"{sum(r.status == PASS for r in results)}/{len(counted)} hosts"
                if counted
                else results[0].message
            )
            lines.append(f"{MARK[worst]} {checkpoint:<21} {check:<24} {detail}")
            if verbose:
                lines += [f"{'':<52}{r.host or '-'}: {r.message}" for r in results if len(results) > 1]
            continue
        first = True
        for r in sorted(bad, key=lambda r: ORDER[r.status]):
            head = f"{MARK[r.status]} {checkpoint:<21} {check:<24}" if first else f"{'':<51}"
            lines.append(f"{head} {r.host + ': ' if r.host else ''}{r.message}")
            first = False
    if report.hosts:
        lines.append("")
        lines.append(
            f"{'host':<16} {'role':<10} {'load':>6} {'cpus':>4} {'load%':>6} {'mem%':>5} "
            f"{'disk%':>5} {'gpu%':>5} {'score':>6} {'ray':>4}  status"
        )
        for h in sorted(report.hosts, key=lambda h: (h.score is None, h.score or 0)):
            m = h.metrics
            lines.append(
                f"{h.name:<16} {h.role:<10} {_fmt(m.get('load1'), '.2f'):>6} {_fmt(m.get('cpus'), 'd'):>4} "
                f"{_fmt(m.get('load_pct')):>6} {_fmt(m.get('memory_used_pct')):>5} "
                f"{_fmt(m.get('disk_used_pct')):>5} "
                f"{_fmt(m.get('gpu_memory_used_pct')):>5} {_fmt(h.score, '.1f'):>6} "
                f"{_fmt(h.ray_nodes_alive, 'd'):>4}  {MARK[h.status].strip()}"
                + (f" ({'; '.join(h.notes)})" if h.notes else "")
            )
        w = report.weights
        lines.append(
            f"score = load% x {w['cpu']:g} + GPU memory% x {w['gpu']:g} (lower is better; "
            f"over {w['max_score']:g} is degraded)"
        )
    if report.approval:
        a = report.approval
        lines.append("")
        lines.append(
            f"approval {a['checkpoint']}: required={a['approval_required']} state={a['state']} "
            f"usable={a['usable']}"
        )
    return "\n".join(lines)
