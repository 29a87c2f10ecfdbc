"""What the SQL query mixins share: the connection, and the paging and write helpers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from claimd.domain.errors import Conflict
from claimd.domain.model import Page

_SORTABLE = {
    "createdTime": "created_time",
    "name": "name",
    "title": "title",
    "email": "email",
    "type": "type",
    "label": "label",
}


class QueryBase:
    """The connection of one unit of work, and helpers of the paged listings and the writes."""

    conn: AsyncConnection

    async def _page(
        self, table: Any, where: Any, page: int, page_size: int, sort: str | None, order: str | None, mapper: Any
    ) -> Page[Any]:
        total = (await self.conn.execute(select(func.count()).select_from(table).where(where))).scalar_one()
        name = _SORTABLE.get(sort or "", "created_time")
        column = table.c.get(name, table.c.created_time)
        ordering = column.desc() if (order or "").upper() == "DESC" else column.asc()
        rows = await self.conn.execute(
            select(table).where(where).order_by(ordering, table.c.id).limit(page_size).offset(page * page_size)
        )
        return Page([mapper(r) for r in rows], total, page_size)

    async def _write(self, stmt: Any, conflict_message: str) -> int:
        """Run an INSERT or UPDATE in a savepoint: Conflict (with ``conflict_message``) when it breaks
        a unique constraint, the transaction going on. The number of rows it wrote."""
        try:
            async with self.conn.begin_nested():
                return (await self.conn.execute(stmt)).rowcount
        except IntegrityError as exc:
            raise Conflict(conflict_message) from exc
