"""DeleteStateMachine: at once, or DELETING until the machine's last running execution has ended.

AWS: "A state machine is deleted only when all its executions are completed. On the next state
transition, the state machine's executions are terminated." The service marks the machine and the
decider ends its executions (`StateMachineDeleted`); whichever transaction ends the last of them
removes the machine, so a restart in between changes nothing.
"""

from __future__ import annotations

from typing import Any

DELETING = "DELETING"  # AWS's StateMachineStatus besides ACTIVE, the column's default


def delete_state_machine(db: Any, q: dict[str, str], arn: str) -> bool:
    """In the caller's write transaction: remove the machine if none of its executions runs, else mark
    it DELETING. Returns whether it is DELETING."""
    if db.execute(q["running_execution_of_machine"], {"arn": arn}).fetchone() is None:
        _remove(db, q, arn)
        return False
    db.execute(q["mark_state_machine_deleting"], {"arn": arn})
    return True


def remove_finished(db: Any, q: dict[str, str]) -> None:
    """In a write transaction that ended executions: remove the DELETING machines that no longer have
    a running execution."""
    for (arn,) in db.execute(q["deleting_state_machines_done"]).fetchall():
        _remove(db, q, arn)


def _remove(db: Any, q: dict[str, str], arn: str) -> None:
    """The machine, its tags and its aliases' tags (its versions and aliases go with it: ON DELETE CASCADE),
    and the frame and join rows its executions kept for a redrive, which none of them can have now."""
    db.execute(q["delete_tags_of_machine"], {"arn": arn})
    db.execute(q["delete_scratch_of_machine_joins"], {"arn": arn})
    db.execute(q["delete_scratch_of_machine_frames"], {"arn": arn})
    db.execute(q["delete_state_machine"], {"arn": arn})
