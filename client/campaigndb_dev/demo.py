"""`make demo` / `campaigndb demo`: deploy, then a short workload through the client."""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal

import psycopg
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from campaigndb import Client
from campaigndb.migrations import alembic_ini
from campaigndb_dev.embedded import dev_dsn


def deploy(dsn: str) -> None:
    """alembic upgrade head against dsn."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(alembic_ini()))
    config.attributes["dsn"] = dsn
    config.attributes["configure_logger"] = False  # the demo prints its own lines
    command.upgrade(config, "head")


def run_demo(console: Console) -> None:
    dsn = dev_dsn()
    console.print(f"[bold]database[/bold] {dsn}")
    deploy(dsn)
    console.print("[bold]deployed[/bold] alembic upgrade head")

    with Client(dsn) as db:
        ws = db.create_workspace("Demo Agency")
        console.print(f"created workspace {ws.workspace_id}")
        zips = [f"{10000 + i:05d}" for i in range(100)] + ["10000"]  # one repeat collapses
        campaign = db.create_campaign_with_coverage(
            {"workspace_id": ws.workspace_id, "name": "Dentists in New York",
             "search_query": "dentist", "location": "New York, NY"},
            zips,
        )
        console.print(f"created campaign {campaign.campaign_id} with {campaign.zip_count} "
                      f"ZIP codes (sent {len(zips)}, repeats collapse)")

        threads, per_thread = 10, 20
        barrier = threading.Barrier(threads)
        sent: list[Decimal] = []
        lock = threading.Lock()

        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("track_campaign_cost", total=threads * per_thread)

            def scraper(n: int) -> None:
                barrier.wait()
                for i in range(per_thread):
                    cost = Decimal(f"0.{(n * per_thread + i) % 97 + 1:02d}")
                    db.track_campaign_cost(campaign.campaign_id, "google_maps", 20, cost,
                                           {"worker": n, "batch": i})
                    with lock:
                        sent.append(cost)
                    progress.advance(task)

            started = time.perf_counter()
            workers = [threading.Thread(target=scraper, args=(n,)) for n in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            elapsed = time.perf_counter() - started
        console.print(f"{threads} threads x {per_thread} track_campaign_cost calls (SERIALIZABLE) "
                      f"in {elapsed:.2f} s, {db.stats.total_retries()} retries")

        key = str(uuid.uuid4())
        first = db.track_campaign_cost(campaign.campaign_id, "bouncer", 1, "0.50",
                                       idempotency_key=key)
        again = db.track_campaign_cost(campaign.campaign_id, "bouncer", 1, "0.50",
                                       idempotency_key=key)
        sent.append(Decimal("0.50"))
        console.print(f"same idempotency key twice: cost_id {first.cost_id} then "
                      f"{again.cost_id} (replayed={again.replayed}): counted once")

        bad = db.call("track_campaign_cost", p_campaign_id=str(campaign.campaign_id),
                      p_service="gmaps", p_items_processed=1, p_cost_usd=Decimal("-1"),
                      p_metadata={})
        console.print(f"a negative cost answers: {bad}")

    with psycopg.connect(dsn) as conn:
        total, rows_sum, rows = conn.execute(
            "SELECT c.total_cost, (SELECT sum(cost_usd) FROM campaigndb.gmaps_api_costs k "
            "WHERE k.campaign_id = c.id), (SELECT count(*) FROM campaigndb.gmaps_api_costs k "
            "WHERE k.campaign_id = c.id) FROM campaigndb.campaigns c WHERE c.id = %s",
            [campaign.campaign_id],
        ).fetchone() or (None, None, None)
    table = Table(title="invariant: campaigns.total_cost = sum(gmaps_api_costs.cost_usd)")
    for column in ("total_cost", "sum of cost rows", "sum sent", "cost rows", "holds"):
        table.add_column(column)
    holds = total == rows_sum == sum(sent)
    table.add_row(str(total), str(rows_sum), str(sum(sent)), str(rows), "yes" if holds else "NO")
    console.print(table)
    if not holds:
        raise SystemExit("invariant broken")
