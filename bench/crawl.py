"""The baseline: per-object crawling of grants, as Databricks Labs UCX does it.

UCX's `GrantsCrawler._crawl` (databrickslabs/ucx, src/databricks/labs/ucx/hive_metastore/grants.py) lists
the catalog's databases and tables, then queues one `SHOW GRANTS ON <type> <name>` per catalog, database
and table and runs them with `Threads.gather` (UCX's default is 10 threads); each thread queries through
its own SQL connection. Here, with the real clients: the catalog's schemas and tables are listed through
the Unity Catalog REST API (databricks-sdk, paged), then one `SHOW GRANTS` per catalog, schema and table
runs on 10 threads, one databricks-sql-connector connection each.

A crawl of 100,000 tables takes minutes at 30 ms a request; `sample` crawls every n-th table only and the
`SHOW GRANTS` phase is scaled to every table (its cost per statement is flat); listing, opening and
closing the connections are measured as they are.
"""

from __future__ import annotations

import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

THREADS = 10


@dataclass(frozen=True)
class CrawlResult:
    wall_seconds: float  # measured (for a sampled crawl: scaled to every table)
    requests: int  # requests the sandbox served (for a sampled crawl: scaled)
    statements: int  # SHOW GRANTS statements (for a sampled crawl: those a full crawl runs)
    grants: int  # grant rows read (for a sampled crawl: those read)
    objects: int  # catalogs, schemas and tables in the crawled catalogs
    crawled: int  # objects whose grants were actually read
    measured_seconds: float  # what the (possibly sampled) crawl took

    @property
    def extrapolated(self) -> bool:
        return self.crawled < self.objects


def crawl(config: dict[str, Any], catalogs: list[str], *, sample: int = 1, requests: Any = None) -> CrawlResult:
    """Crawl every grant of `catalogs`; `requests()` (optional) answers the requests served so far."""
    from databricks import sql as dbsql
    from databricks.sdk import WorkspaceClient

    databricks = config["targets"][0]["databricks"]
    host, token, http_path = databricks["host"], databricks["auth"]["token"], databricks["http_path"]
    start = time.perf_counter()
    before = requests() if requests else 0

    workspace = WorkspaceClient(host=host, token=token)
    securables: list[tuple[str, str]] = []
    schemas: list[tuple[str, str]] = []
    for catalog in catalogs:
        securables.append(("CATALOG", catalog))
        for schema in workspace.schemas.list(catalog_name=catalog):
            assert schema.name is not None
            if schema.name != "information_schema":
                schemas.append((catalog, schema.name))
                securables.append(("SCHEMA", f"{catalog}.{schema.name}"))

    def tables_of(catalog_schema: tuple[str, str]) -> list[str]:
        catalog, schema = catalog_schema
        return [str(t.full_name) for t in workspace.tables.list(catalog_name=catalog, schema_name=schema)]

    parsed = urlparse(host)

    def connect(_: int) -> Any:
        return dbsql.connect(
            server_hostname=parsed.netloc,
            http_path=http_path,
            access_token=token,
            enable_telemetry=False,
            _connection_uri=f"{host}{http_path}",
        )

    idle: queue.SimpleQueue[Any] = queue.SimpleQueue()  # one connection per thread, taken for each statement

    def show_grants(securable: tuple[str, str]) -> int:
        connection = idle.get()
        try:
            kind, name = securable
            quoted = ".".join(f"`{part}`" for part in name.split("."))
            with connection.cursor() as cursor:
                cursor.execute(f"SHOW GRANTS ON {kind} {quoted}")
                return len(cursor.fetchall())
        finally:
            idle.put(connection)

    with ThreadPoolExecutor(THREADS) as pool:
        connections = list(pool.map(connect, range(THREADS)))
        for connection in connections:
            idle.put(connection)
        tables = [name for names in pool.map(tables_of, schemas) for name in names]
        listed, listed_requests = time.perf_counter(), (requests() if requests else 0)
        sampled = tables[::sample]
        crawled = securables + [("TABLE", name) for name in sampled]
        grants = sum(pool.map(show_grants, crawled))
        shown, shown_requests = time.perf_counter(), (requests() if requests else 0)
        for connection in connections:
            connection.close()
    end, closing_requests = time.perf_counter(), (requests() - shown_requests if requests else 0)

    objects = len(securables) + len(tables)
    scale = objects / len(crawled)  # only the SHOW GRANTS part scales with the objects crawled
    return CrawlResult(
        wall_seconds=(listed - start) + (shown - listed) * scale + (end - shown),
        requests=(listed_requests - before) + round((shown_requests - listed_requests) * scale) + closing_requests,
        statements=objects,
        grants=grants,
        objects=objects,
        crawled=len(crawled),
        measured_seconds=end - start,
    )
