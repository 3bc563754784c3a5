"""An append-only log paged newest first by position, with `after` = an item's id.

Pages cost O(limit): items are kept oldest first with an id → position index, so a
page is a slice read backwards from the cursor's position. Ids are whatever the item
carries under "id" when that is a string; items without one are listed, never cursors.
"""

from __future__ import annotations

from typing import Any


class NewestFirstLog:
    """Items in arrival order, each with the wall time it became visible."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.visible_at: list[float] = []
        self._index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def append(self, item: Any, visible_at: float) -> int:
        """Add `item`; a repeated id makes the newer item the cursor target."""
        position = len(self.items)
        self.items.append(item)
        self.visible_at.append(visible_at)
        item_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(item_id, str):
            self._index[item_id] = position
        return position

    def position(self, item_id: str) -> int | None:
        return self._index.get(item_id)

    def page(self, after: str | None, limit: int) -> tuple[list[Any], bool]:
        """Up to `limit` items older than `after` (newest first), and whether more remain.

        An unknown `after` gives an empty page: there is nothing known to be older.
        """
        if after is None:
            end = len(self.items)
        else:
            found = self._index.get(after)
            if found is None:
                return [], False
            end = found
        start = max(end - limit, 0)
        return self.items[start:end][::-1], start > 0

    def newest_first(self) -> list[Any]:
        return self.items[::-1]
