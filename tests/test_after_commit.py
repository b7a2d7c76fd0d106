"""Work queued to run after the commit waits for the whole transaction, not a savepoint."""

from __future__ import annotations

from tracker.db import after_commit


def test_a_savepoint_released_does_not_run_what_waits_for_the_commit(db):
    ran: list[str] = []
    db.connection()  # the transaction is open
    after_commit(db, lambda: ran.append("sent"))
    with db.begin_nested():  # released: a commit of the savepoint only
        pass
    assert ran == []
    db.commit()
    assert ran == ["sent"]
