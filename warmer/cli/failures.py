"""`warmer ingest-junit`, `warmer failures`: test failure reports in, known failure signatures out."""

from __future__ import annotations

import json
from pathlib import Path

import click

from warmer.artifacts.failures.ingest import IngestReport, fingerprints, ingest_junit
from warmer.artifacts.failures.junit import MAX_REPORT_BYTES, JunitError
from warmer.cli import cli, user_errors
from warmer.cli.context import open_ledger, publish_or_explain
from warmer.cli.output import table


def _read_report(path: Path) -> bytes:
    """The file's bytes, refusing an oversized one before reading it all into memory."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise JunitError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_REPORT_BYTES:
        raise JunitError(f"{path} is over the {MAX_REPORT_BYTES // 1_048_576} MB limit for a JUnit report")
    return data


def _describe(report: IngestReport, path: Path) -> str:
    if report.duplicate:
        sha = report.sha256[:12]
        return f"{path.name}: already ingested for {report.repo} (sha256 {sha}): nothing counted again"
    text = f"{path.name} → {report.repo}: {report.tests} test(s), {report.failures} failure(s)"
    if report.failures:
        new, known = len(report.new_fingerprints), len(report.known_fingerprints)
        text += f" in {new + known} fingerprint(s): {new} new, {known} already known"
    return text


@cli.command("ingest-junit")
@click.argument("repo")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--commit", help="The commit the tests ran at (recorded with the report).")
@click.option("--json", "as_json", is_flag=True, help="Print what was ingested as JSON.")
@user_errors
def ingest_junit_command(repo: str, file: Path, commit: str | None, as_json: bool) -> None:
    """Count a JUnit XML report's failures into REPO's known failure fingerprints."""
    data = _read_report(file)
    ctx = open_ledger()
    report = ingest_junit(ctx.db, repo, data, source="cli", commit=commit)
    published = None
    if report.refresh is not None and report.refresh.created and report.refresh.job_id is not None:
        refresh = report.refresh
        published = publish_or_explain(ctx, [(refresh.job_id, refresh.trigger, refresh.priority)])
    if as_json:
        click.echo(json.dumps({**report.as_json(), "file": str(file)}, indent=2))
        return
    click.echo(_describe(report, file))
    if report.refresh is not None:
        click.echo(f"known_failure_fingerprint refresh: {report.refresh.reason}")
    if published:
        click.echo(published)


@cli.command()
@click.argument("repo")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of fingerprints.")
@user_errors
def failures(repo: str, limit: int, as_json: bool) -> None:
    """REPO's known failure fingerprints, most frequent first."""
    ctx = open_ledger()
    rows = fingerprints(ctx.db, repo, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no failures ingested for {repo} yet (`warmer ingest-junit {repo} REPORT.xml`)")
        return
    columns = ("count", "type", "message", "top frame", "last test", "first seen", "last seen", "fingerprint")
    table(columns, [
        (
            row["count"], row["exception_type"], row["message"][:80],
            row["frames"][0] if row["frames"] else "-", row["test_name"][:60],
            row["first_seen"][:19].replace("T", " "), row["last_seen"][:19].replace("T", " "),
            row["fingerprint"][:12],
        )
        for row in rows
    ])  # fmt: skip
