"""``claimd jobs …``: the bulk jobs of a running claimd (``/v1/bulk-ops-requests``): list them, look at one,
wait for one to finish, download its results.

A job goes on at the server whatever happens to the command that started it: a production line whose
``claimd devices import`` was interrupted (Ctrl-C, a lost SSH session) picks it up again with ``claimd jobs
wait ID`` and ``claimd jobs results ID --out FILE``. An import's result file holds each device's one-time
secrets and is served once (a second download answers 410 Gone): it is written to a new file only its
owner can read, never over an existing one.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from claimd.entrypoints.cli_remote import (
    EXIT_ROWS_FAILED,
    Client,
    HttpError,
    Json,
    client_of,
    connect,
    create_private,
    echo_json,
    fail,
    table,
)

if TYPE_CHECKING:
    from rich.progress import Progress

jobs_app = typer.Typer(
    help="Bulk jobs (imports, bulk claims): list, status, wait for one, download its results "
    "(talks to a running claimd over HTTP).",
    no_args_is_help=True,
)
jobs_app.callback()(connect)

DONE = ("SUCCEEDED", "FAILED")
JobId = Annotated[str, typer.Argument(help="The job's id (bulkOpsRequestId), as `claimd jobs list` shows it")]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="No progress bar (it is drawn on a terminal only)")]


def job_path(job_id: str) -> str:
    if not job_id or "/" in job_id or not job_id.isprintable():
        fail(f"{job_id!r} is not a job id (bulkOpsRequestId, e.g. from `claimd jobs list`)")
    return f"/v1/bulk-ops-requests/{job_id}"


def find_job(client: Client, job_id: str) -> dict[str, Any]:
    found: dict[str, Any] | None = client.find(job_path(job_id))
    if found is None:
        fail(f"no job {job_id} (`claimd jobs list` shows yours)")
    return found


def _progress(show: bool) -> tuple[Any, Progress | None]:
    """A progress bar on stderr (rows done of the job's total), or none: off a terminal it would be
    escape codes in a log."""
    if not show:
        return nullcontext(), None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        redirect_stdout=False,
        redirect_stderr=False,
    )
    return progress, progress


def wait_for(client: Client, job_id: str, *, show_progress: bool, interval: float = 2.0) -> dict[str, Any]:
    """Poll the job until it is SUCCEEDED or FAILED; its last state. Polls quickly at first (a small job
    is done in a second), then every ``interval`` seconds. Ctrl-C stops waiting, not the job: the
    command says how to go on."""
    display, progress = _progress(show_progress and sys.stderr.isatty())
    delay = 0.2
    try:
        with display:
            task = progress.add_task(f"job {job_id}", total=None) if progress is not None else None
            while True:
                job = find_job(client, job_id)
                if progress is not None and task is not None:
                    done = int(job.get("succeeded") or 0) + int(job.get("failed") or 0)
                    progress.update(
                        task,
                        total=int(job.get("total") or 0) or None,
                        completed=done,
                        description=f"job {job_id} {str(job.get('status', '')).lower().replace('_', ' ')}",
                    )
                if job.get("status") in DONE:
                    return job
                time.sleep(delay)
                delay = min(delay * 1.5, interval)
    except KeyboardInterrupt:
        fail(
            f"stopped waiting; job {job_id} goes on at the server: `claimd jobs wait {job_id}`, then "
            f"`claimd jobs results {job_id} --out FILE`",
            130,
        )


def download_results(client: Client, job_id: str, out: Path, target: Any | None = None) -> int:
    """The job's result file into ``out`` (created 0600 and never overwritten, unless the caller already
    made it: ``target``); its size. A refused download leaves no empty file behind to block a rerun; a
    broken one keeps what came (it may hold secrets that are not served again)."""
    handle = target if target is not None else create_private(out, "--out")
    try:
        with handle:
            return client.download(f"{job_path(job_id)}/results.json", handle)
    except HttpError as exc:
        drop_if_empty(out)
        if exc.status == 410:
            fail(
                f"the results of job {job_id} were already downloaded (410 Gone): the one-time secrets are only "
                "in that first download; find that file (or give the devices new secrets)"
            )
        fail(f"no results for job {job_id} ({exc.status}: {exc.message})")
    except BaseException:
        if not drop_if_empty(out):
            typer.echo(f"claimd: the results received so far are kept in {out}", err=True)
        raise


def drop_if_empty(path: Path) -> bool:
    """Remove ``path`` if nothing was written to it; whether it is gone."""
    try:
        if path.stat().st_size == 0:
            path.unlink()
            return True
    except OSError:
        return True
    return False


def _when(value: Any) -> str:
    return str(value or "-").replace("T", " ").removesuffix("Z")


def _job_row(job: dict[str, Any]) -> list[str]:
    return [
        str(job.get("bulkOpsRequestId", "")),
        str(job.get("endpoint", "")),
        str(job.get("outcome") or job.get("status", "")),
        str(job.get("total", 0)),
        str(job.get("succeeded", 0)),
        str(job.get("failed", 0)),
        _when(job.get("requestedAt")),
    ]


def show_job(job: dict[str, Any]) -> None:
    """A job for people: one field a line."""
    fields = [
        ("job", job.get("bulkOpsRequestId")),
        ("kind", job.get("endpoint")),
        ("status", job.get("status")),
        ("outcome", job.get("outcome") or "-"),
        ("rows", job.get("total")),
        ("succeeded", job.get("succeeded")),
        ("failed", job.get("failed")),
        ("requested", _when(job.get("requestedAt"))),
        ("completed", _when(job.get("completedAt"))),
    ]
    if "resultsTaken" in job:  # an import's: its result file holds secrets and is served once
        fields.append(("results", "downloaded (served once)" if job["resultsTaken"] else "not downloaded yet"))
    for name, value in fields:
        typer.echo(f"{name:<10} {value}")


@jobs_app.command("list")
def list_jobs(ctx: typer.Context, as_json: Json = False) -> None:
    """Your recent bulk jobs, newest first."""
    answer = client_of(ctx).call("GET", "/v1/bulk-ops-requests")
    if as_json:
        echo_json(answer)
        return
    items = answer.get("items", [])
    if not items:
        typer.echo("no jobs")
        return
    table([_job_row(job) for job in items], ["JOB", "KIND", "STATUS", "ROWS", "OK", "FAILED", "REQUESTED"])


@jobs_app.command("status")
def status(ctx: typer.Context, job_id: JobId, as_json: Json = False) -> None:
    """A job's status and counters."""
    job = find_job(client_of(ctx), job_id)
    if as_json:
        echo_json(job)
    else:
        show_job(job)


@jobs_app.command("wait")
def wait(ctx: typer.Context, job_id: JobId, no_progress: NoProgress = False, as_json: Json = False) -> None:
    """Wait until a job is done; exit 0 if no row failed, 1 if some did."""
    job = wait_for(client_of(ctx), job_id, show_progress=not (no_progress or as_json))
    if as_json:
        echo_json(job)
    else:
        show_job(job)
    if job.get("failed"):
        raise typer.Exit(EXIT_ROWS_FAILED)


@jobs_app.command("results")
def results(
    ctx: typer.Context,
    job_id: JobId,
    out: Annotated[Path, typer.Option("--out", "-o", help="A new file for the results, mode 0600 (never overwritten)")],
    as_json: Json = False,
) -> None:
    """Download a job's results to a new file (mode 0600).

    An import's results hold one-time secrets: they are served once, and a second download is refused (410 Gone).
    """
    size = download_results(client_of(ctx), job_id, out)
    if as_json:
        echo_json({"bulkOpsRequestId": job_id, "resultsFile": os.fspath(out), "bytes": size})
    else:
        typer.echo(f"results of job {job_id}: {out} ({size} bytes, mode 0600)")
