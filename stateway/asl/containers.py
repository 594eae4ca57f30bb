# mypy: disable-error-code="misc"
# (The methods take `self: _Run`, the class that mixes this one in; mypy reports such self-types as "misc".)
"""Parallel and Map states: child frames, joins, MaxConcurrency, tolerated failures and Map Runs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from stateway.asl import batches, history, jsonata, jsontext, paths
from stateway.asl.causes import error_details, shown
from stateway.asl.child_names import child_execution_name as child_execution_name  # importable from here too
from stateway.asl.errors import ErrorName, Failure, FailureError
from stateway.asl.events import (
    READ_ITEMS,
    WRITE_RESULTS,
    CancelTask,
    CancelTimer,
    ChildExecutionChanged,
    ItemsRead,
    MapRunEnded,
    MapRunUpdated,
    ScheduleTask,
)
from stateway.asl.frames import ITEMS_PER_RUN, REDRIVABLE_PERIOD_MS, STORED, Frame, Join, frame_path
from stateway.asl.model import UNSET, QueryLanguage, State, StateType, is_set
from stateway.asl.payload import apply_input_path
from stateway.asl.resources import parse_resource

if TYPE_CHECKING:
    from stateway.asl.interpreter import _Run


# AWS's hard limit on redrives of one Map Run; past it the redriven Map state fails with States.Runtime.
MAX_MAP_RUN_REDRIVES = 1000
# How a Map with tolerated-failure thresholds, or a distributed one, fails when a child fails beyond them.
THRESHOLD_EXCEEDED = Failure(ErrorName.EXCEED_TOLERATED_FAILURE_THRESHOLD.value,
                             "The specified tolerated failure threshold was exceeded")


class ContainerStates:
    """The part of an `advance` run that starts, joins and fails child frames."""


    def run_parallel(self: _Run, frame: Frame, state: State) -> None:
        if state.query_language is QueryLanguage.JSONATA:
            effective = self.ja(frame, state.arguments, "Arguments", self.states_binding(frame)) if is_set(
                state.arguments) else frame.state_input
        else:
            effective = self.input_path(frame, state)
            if is_set(state.parameters):
                effective = self.template(frame, state.parameters, effective, "Parameters")
        self.emit(frame, "ParallelStateStarted")
        branches = len(state.branches)
        frame.join = Join(kind="parallel", size=branches, inputs=dict.fromkeys(range(branches), effective),
                          results={}, id=self.next_id("j"))
        frame.waiting = "children"
        pending = self.resume_redriven(frame, frame.join)
        if not pending:
            self.join_finished(frame, state)
            return
        for _ in range(pending):
            self.start_child(frame, state)

    def map_items(self: _Run, frame: Frame, state: State) -> tuple[Any, list[Any]]:
        """(what ItemSelector reads, the items) in the state's query language."""
        if is_set(state.item_reader) and state.item_reader is not None:  # only where `reads_items` says no
            raise FailureError(ErrorName.ITEM_READER_FAILED.value,
                               "Reading items from an ItemReader resource is not supported here.")
        if state.query_language is QueryLanguage.JSONATA:
            if not is_set(state.items):
                if not isinstance(frame.state_input, list):
                    raise FailureError(ErrorName.QUERY_EVALUATION_ERROR.value,
                                       f"Map state input must be an array but was: {jsontext.dumps(frame.state_input)}")
                return frame.state_input, frame.state_input
            items = self.ja(frame, state.items, "Items", self.states_binding(frame))
            if not isinstance(items, list):
                raise jsonata.type_failure(state.items, "Items", "array", items)
            return frame.state_input, items
        effective = self.input_path(frame, state)
        items_path = state.items_path if is_set(state.items_path) else "$"
        items = apply_input_path(items_path, effective, self.context(frame), frame.variables, "ItemsPath")
        if not isinstance(items, list):
            raise paths.items_path_not_array_failure(items_path)
        return effective, items

    def item_runs(self: _Run, frame: Frame, state: State) -> tuple[int, dict[int, str]] | None:
        """(how many items, the items as JSON text runs) when the input was kept as text: for a Map
        that `takes_items_as_text`, entered with a large execution input or a Map's output."""
        if type(frame.state_input) is not jsontext.RawJson:
            return None
        keys = _items_keys(state)
        found = jsontext.array_runs(frame.state_input.text, keys, ITEMS_PER_RUN) if keys is not None else None
        if found is None:  # no array there: the input is read as objects, which reports why
            frame.state_input = jsontext.materialize(frame.state_input)
        return found

    def reads_items(self: _Run, state: State) -> bool:
        """Whether the Map asks the shell for its items (an ItemReader) instead of taking them from its input."""
        return is_set(state.item_reader) and state.item_reader is not None

    def run_map(self: _Run, frame: Frame, state: State) -> None:
        reads = self.reads_items(state)
        inputs: dict[int, Any]
        texts: dict[int, str]
        runs = None if reads else self.item_runs(frame, state)
        if reads:  # the items come from the shell once the Map Run has started (`items_read`)
            effective = frame.state_input if state.query_language is QueryLanguage.JSONATA \
                else self.input_path(frame, state)
            size, inputs, texts = 0, {}, {}
        elif runs is not None:
            effective, inputs, (size, texts) = frame.state_input, {}, runs
        else:
            effective, items = self.map_items(frame, state)
            size, inputs, texts = len(items), dict(enumerate(items)), {}
        max_concurrency = self.integer_field(frame, state.max_concurrency, state.max_concurrency_path,
                                             "MaxConcurrencyPath", effective) or 0
        # AWS records MapStateStarted after MaxConcurrency but before the tolerance settings; with an
        # ItemReader its length is 0 (the items are read after it, by the Map Run).
        started = self.emit(frame, "MapStateStarted", {"length": size})
        count = self.integer_field(frame, state.tolerated_failure_count, state.tolerated_failure_count_path,
                                   "ToleratedFailureCountPath", effective)
        percentage = self.float_field(frame, state.tolerated_failure_percentage,
                                      state.tolerated_failure_percentage_path, "ToleratedFailurePercentagePath",
                                      effective)
        if count is not None and count < 0:
            raise FailureError(ErrorName.RUNTIME.value, "ToleratedFailureCount cannot be negative.")
        if percentage is not None and not 0 <= percentage <= 100:
            raise FailureError(ErrorName.RUNTIME.value, "ToleratedFailurePercentage must be between 0 and 100.")
        distributed = state.processor_mode == "DISTRIBUTED"
        frame.join = Join(kind="map", size=size, inputs=inputs, texts=texts, results={}, source=effective,
                          id=self.next_id("j"), max_concurrency=max_concurrency, tolerated_count=count,
                          tolerated_percentage=percentage, map_pointer=started, distributed=distributed,
                          input_is_source=effective is frame.state_input,
                          selector_reads_input=_selector_reads_input(state),
                          express_children=distributed and state.processor_execution_type == "EXPRESS")
        frame.waiting = "children"
        # A distributed Map runs its items as a Map Run whose iterations are not in this history.
        if distributed and not self.start_map_run(frame, state, frame.join):
            frame.join = None
            frame.waiting = None
            # That Map Run stays this Map's, so that a later redrive finds it and is refused again;
            # its child executions will not run again.
            frame.failed_join, frame.redrive_join = frame.redrive_join, None
            self.drop_kept(frame.failed_join)
            self.container_failed(frame, state, "Map", self.with_location(frame, Failure(
                ErrorName.RUNTIME.value, f"The Map Run has been redriven {MAX_MAP_RUN_REDRIVES} times, its maximum.")))
            return
        if reads:
            try:
                self.read_items(frame, state, effective)
            except FailureError as error:
                self.map_run_failed(frame, state, error)
            return
        self.map_items_ready(frame, state, effective)

    def map_items_ready(self: _Run, frame: Frame, state: State, effective: Any) -> None:
        """The Map's join has its items: batch them, keep what a redrive need not run again, start children."""
        join = frame.join
        assert join is not None
        if join.distributed and is_set(state.item_batcher) and state.item_batcher is not None:
            try:
                self.batch_items(frame, state, join, state.item_batcher, effective)
            except FailureError as error:  # the Map Run fails as it reads its items
                self.map_run_failed(frame, state, error)
                return
        pending = self.resume_redriven(frame, join)
        if join.failed and not self.tolerated(join):  # failed for good (not redrivable) beyond the tolerance
            self.join_failed(frame, state, join, THRESHOLD_EXCEEDED)
            return
        if not pending:
            self.join_finished(frame, state)
            return
        limit = join.max_concurrency if join.max_concurrency > 0 else pending
        for _ in range(min(limit, pending)):
            self.start_child(frame, state)

    def map_run_failed(self: _Run, frame: Frame, state: State, error: FailureError) -> None:
        """A distributed Map's Map Run fails before it starts a child: its items could not be read or
        batched (MapRunFailed, then the Map state fails; Retry and Catch apply)."""
        join = frame.join
        assert join is not None
        failure = self.with_location(frame, error.failure)
        if failure.error == ErrorName.QUERY_EVALUATION_ERROR:
            self.evaluation_failed(frame, failure, error.location)
        self.restore_input(frame, join)
        self.map_run_ended(frame, join, "FAILED", batched=is_set(state.item_batcher) and state.item_batcher is not None)
        frame.join = None
        frame.waiting = None
        self.emit(frame, "MapRunFailed", error_details(failure))
        self.container_failed(frame, state, "Map", failure)

    def read_items(self: _Run, frame: Frame, state: State, effective: Any) -> None:
        """Ask the shell for the items of the Map's ItemReader (a `ScheduleTask` of kind `READ_ITEMS`,
        with its Parameters or Arguments and ReaderConfig resolved): the Map waits for `ItemsRead`
        as a Task state waits for its task, and records no event of it."""
        reader: dict[str, Any] = state.item_reader
        parameters = self.shell_parameters(frame, state, reader, lambda: effective)
        config = dict(reader.get("ReaderConfig") or {})
        max_items = self.integer_field(frame, config.pop("MaxItems", UNSET), config.pop("MaxItemsPath", None),
                                       "MaxItemsPath", effective)
        if max_items is not None and max_items < 0:
            raise FailureError(ErrorName.ITEM_READER_FAILED.value, "field MaxItems must be positive")
        if max_items:  # 0 reads them all
            config["MaxItems"] = max_items
        join = frame.join
        assert join is not None
        # The join that will hold the items, named now: a shell may store them under it as it reads them,
        # answering with only the first `KeepItems` (what the Map starts before its data is stored apart).
        # An ItemBatcher batches all the items as they arrive: then all of them come with the answer.
        request: dict[str, Any] = {"Parameters": parameters, "ReaderConfig": config, "JoinId": self.next_id("j")}
        if not (is_set(state.item_batcher) and state.item_batcher is not None):
            request["KeepItems"] = join.window
        self.ask_shell(frame, state, READ_ITEMS, str(reader.get("Resource", "")), request, "items",
                       str(frame.retry_count))

    def shell_parameters(self: _Run, frame: Frame, state: State, spec: dict[str, Any],
                         source: Callable[[], Any]) -> Any:
        """An ItemReader's or ResultWriter's Parameters (JSONPath, on `source()`) or Arguments (JSONata)."""
        if state.query_language is QueryLanguage.JSONATA:
            return self.ja(frame, spec["Arguments"], "Arguments", self.states_binding(frame)) if "Arguments" in spec else {}
        return self.template(frame, spec["Parameters"], source(), "Parameters") if "Parameters" in spec else {}

    def ask_shell(self: _Run, frame: Frame, state: State, kind: str, resource: str, request: dict[str, Any],
                  waiting: str, key: str) -> None:
        """Have the shell read a distributed Map's items or write its results: a `ScheduleTask` of `kind`
        that the frame waits for as a Task state waits for its task, with no event of its own; `key`
        ends its idempotency key."""
        ref = parse_resource(resource)
        task_id = self.next_id("k")
        frame.waiting = waiting
        frame.task_id = task_id
        frame.task_resource = None
        self.snap.tasks[task_id] = frame.id
        self.commands.append(ScheduleTask(
            task_id=task_id, frame_id=frame.id, state_name=state.name, resource=resource, kind=kind,
            resource_type=ref.resource_type, service_resource=ref.resource, input=request,
            attempt=frame.retry_count,
            run_key="/".join(filter(None, (frame_path(frame), str(frame.step), state.name, key)))))

    def items_read(self: _Run, frame: Frame, event: ItemsRead) -> None:
        """The shell read a Map's items: they become its join's children (as JSON text runs), and the Map
        Run starts them. The join takes the id the read named (the data stored for it so far held no
        items), under which the shell may have stored the runs `event.runs` leaves out."""
        join = frame.join
        state = self.current(frame)
        if join is None:
            return
        self.restore_input(frame, join)
        source = join.map_source()
        join.id, join.store, join.source = event.join_id or self.next_id("j"), None, source
        join.size, join.inputs, join.texts, join.reader = event.size, {}, dict(event.runs), event.store
        frame.waiting = "children"
        self.map_items_ready(frame, state, source)

    def items_failed(self: _Run, frame: Frame, failure: Failure) -> None:
        """The shell could not read a Map's items, or write its results: its Map Run fails
        (`States.ItemReaderFailed`, `States.ResultWriterFailed`)."""
        frame.waiting = None
        self.map_run_failed(frame, self.current(frame), FailureError(failure.error, failure.cause))

    def select_item(self: _Run, frame: Frame, state: State, index: int, item: Any, source: Callable[[], Any]) -> Any:
        """An item as the ItemSelector makes it — per item, in the Map state's scope, with $$.Map.Item set;
        a JSONPath selector reads `source()`, the Map's effective input — or the item itself without one."""
        if not is_set(state.item_selector):
            return item
        if state.query_language is QueryLanguage.JSONATA:
            return self.ja(frame, state.item_selector, "ItemSelector", self.states_binding(frame, item=(index, item)))
        return self.template(frame, state.item_selector, source(), "ItemSelector", item=(index, item))

    def batch_items(self: _Run, frame: Frame, state: State, join: Join, batcher: dict[str, Any],
                    effective: Any) -> None:
        """ItemBatcher: the join's children become batches of items. ItemSelector applies to each item
        first; each child's input is `{"BatchInput": …, "Items": […]}`."""
        limits = []
        for field_name in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
            value = self.integer_field(frame, batcher.get(field_name, UNSET), batcher.get(f"{field_name}Path"),
                                       f"{field_name}Path", effective)
            if value is not None and value < 1:
                raise FailureError(ErrorName.ITEM_READER_FAILED.value, f"field {field_name} must be positive")
            if field_name == "MaxInputBytesPerBatch" and value is not None and value > batches.MAX_BATCH_BYTES:
                raise FailureError(ErrorName.ITEM_READER_FAILED.value,
                                   f"field {field_name} must be at most {batches.MAX_BATCH_BYTES}")
            limits.append(value)
        max_items, max_bytes = limits
        shared: Any = UNSET
        if "BatchInput" in batcher and state.query_language is QueryLanguage.JSONATA:
            shared = self.ja(frame, batcher["BatchInput"], "BatchInput", self.states_binding(frame))
        elif "BatchInput" in batcher:
            shared = self.template(frame, batcher["BatchInput"], effective, "BatchInput")
        items = [self.select_item(frame, state, index, join.item(index), lambda: effective)
                 for index in range(join.size)]
        # Without MaxInputBytesPerBatch a batch holds as many items as fit the payload quota.
        limit = max_bytes if max_bytes is not None else min(self.payload_limit, batches.MAX_BATCH_BYTES)
        grouped = batches.group(items, max_items, limit, shared)
        join.inputs = dict(enumerate(grouped))
        join.size = len(grouped)
        join.batch_sizes = [len(batch["Items"]) for batch in grouped]
        join.selector_reads_input = False  # applied already: the children's inputs are the batches

    def resume_redriven(self: _Run, frame: Frame, join: Join) -> int:
        """After a redrive, keep the children that succeeded before; returns how many must run."""
        previous, frame.redrive_join = frame.redrive_join, None
        if previous is None or previous.kind != join.kind or previous.size != join.size:
            self.drop_kept(previous)
            return join.size
        done = previous.succeeded_results()
        join.results.update(done)
        join.succeeded = len(done)
        join.items_succeeded = sum(join.batch_sizes[i] for i in done) if join.batch_sizes is not None else len(done)
        if join.distributed and previous.distributed:
            self.redrive_children(frame, join, previous)
        elif not join.distributed and not previous.distributed:
            # A branch or iteration that failed or was cut short continues from the state where it stopped.
            stopped = {**previous.unsuccessful, **previous.redriving}
            join.redriving = {index: frame_id for index, frame_id in sorted(stopped.items())
                              if frame_id in self.snap.frames and index not in done}
        else:
            self.drop_kept(previous)
        failed = set(join.not_redrivable)
        join.order = [i for i in range(join.size) if i not in done and i not in failed]
        return len(join.order)

    def redrive_children(self: _Run, parent: Frame, join: Join, previous: Join) -> None:
        """A redriven Map Run's child executions that ran before and did not succeed, as AWS redrives
        them: an Express one runs again from its start; a Standard one continues from the state where it
        stopped (its kept frame), unless it stopped more than the redrivable period ago — then it is not
        redriven, and its failure stands for good (counted as failed by every later attempt)."""
        join.not_redrivable = list(previous.not_redrivable)
        stopped = {**previous.unsuccessful, **previous.redriving}
        for index in sorted(stopped):
            frame_id = stopped[index]
            kept = self.snap.frames.get(frame_id) if frame_id else None
            if kept is not None and (join.express_children or self.now - kept.stopped_ms > REDRIVABLE_PERIOD_MS):
                self.drop_frame(frame_id)
                if not join.express_children:
                    join.not_redrivable.append(index)
                    continue
                kept = None
            join.redriving[index] = frame_id if kept is not None else ""
            # A Standard child execution that will continue: it waits for its turn.
            if kept is not None and self.tells_children(parent):
                self.child_changed(parent, join, kept, "PENDING_REDRIVE")
        join.not_redrivable.sort()
        join.failed = len(join.not_redrivable)
        join.items_failed = sum(join.batch_sizes[i] for i in join.not_redrivable) \
            if join.batch_sizes is not None else join.failed

    def start_map_run(self: _Run, frame: Frame, state: State, join: Join) -> bool:
        """MapRunStarted; or, when a redrive finds the Map Run this Map started before, MapRunRedriven:
        AWS redrives that Map Run (same ARN, its own redrive count) rather than starting another.
        False when that Map Run has been redriven as often as AWS allows."""
        previous = frame.redrive_join
        if previous is None or not previous.distributed or not previous.map_run_arn:
            join.map_run_arn = self.map_run_arn(state)
            self.emit(frame, "MapRunStarted", {"mapRunArn": join.map_run_arn})
            return True
        if previous.map_run_redrives >= MAX_MAP_RUN_REDRIVES:
            return False
        join.map_run_arn, join.map_run_redrives = previous.map_run_arn, previous.map_run_redrives + 1
        self.emit(frame, "MapRunRedriven", {"mapRunArn": join.map_run_arn, "redriveCount": join.map_run_redrives})
        return True

    def map_run_arn(self: _Run, state: State) -> str:
        ex = self.snap.execution
        parts = ex.execution_arn.split(":")
        account = parts[4] if len(parts) > 4 else ""
        label = state.label or self.env.uuid4()
        return (f"arn:aws:states:{self.region}:{account}:mapRun:{ex.state_machine_name}/{label}:"
                f"{self.env.uuid4()}")

    def integer_field(self: _Run, frame: Frame, value: Any, path: str | None, field_name: str, data: Any) -> int | None:
        number = self.number_field(frame, value, path, field_name, data, int)
        return None if number is None else int(number)

    def float_field(self: _Run, frame: Frame, value: Any, path: str | None, field_name: str, data: Any) -> float | None:
        number = self.number_field(frame, value, path, field_name, data, float)
        return None if number is None else float(number)

    def number_field(self: _Run, frame: Frame, value: Any, path: str | None, field_name: str, data: Any,
                     kind: type[int] | type[float]) -> int | float | None:
        """A Map setting given as a literal or expression (`MaxConcurrency`) or a path (`…Path`)."""
        if is_set(value) and value is not None:
            found = self.ja_value(frame, value, field_name.removesuffix("Path"))
            number = _as_number(found, kind)
            if number is None:  # a JSONata expression gave something else
                raise jsonata.type_failure(value, field_name.removesuffix("Path"),
                                           "integer" if kind is int else "number", found)
            return number
        if not path:
            return None
        try:
            resolved = paths.evaluate_path(path, data, self.context(frame), frame.variables)
        except paths.PathNotFound as missing:  # in AWS's words for a path that finds nothing
            raise FailureError(ErrorName.RUNTIME.value, str(missing)) from None
        number = _as_number(resolved, kind)
        if number is None:
            label = "integer" if kind is int else "float"
            raise FailureError(ErrorName.RUNTIME.value, f"The {field_name} field refers to value "
                               f"\"{shown(resolved)}\" which is not a valid {label}: {path}")
        return number

    def start_child(self: _Run, parent: Frame, state: State) -> None:
        join = parent.join
        assert join is not None
        index = join.order[join.next_index] if join.order is not None else join.next_index
        join.next_index += 1
        kept_id = join.redriving.pop(index, None) if join.redriving else None
        kept = self.snap.frames.get(kept_id) if kept_id else None
        if kept is not None:
            self.resume_child(parent, state, join, kept)
            return
        # The parent's step is the container's entry (or retry): it stays put while its children run.
        path = "/".join(filter(None, (frame_path(parent), f"{parent.step}.{index}")))
        if join.kind == "parallel":
            program = state.branches[index]
            child = Frame(id=self.next_id("f"), program=program.path, parent=parent.id, index=index,
                          variables=dict(parent.variables), prev=parent.prev, silent=parent.silent, path=path)
            child_input = join.item(index)
        else:
            assert state.processor is not None
            program = state.processor
            # A distributed Map's iterations are child executions: they do not see the outer variables.
            child = Frame(id=self.next_id("f"), program=program.path, parent=parent.id, index=index,
                          variables={} if join.distributed else dict(parent.variables),
                          silent=parent.silent or join.distributed, path=path)
            child.prev = join.map_pointer
            if join.distributed:  # a child execution of the Map Run (named by the Map Run and its index)
                child.execution_start_ms = self.now  # its own history begins as the shell is told (`child_changed`)
            else:
                self.emit(child, "MapIterationStarted", {"index": index, "name": state.name})
            item = join.item(index)
            child_input = item
            if join.selector_reads_input:
                # Only then: a selector that cannot read the Map's input never looks at `$states.input`
                # (nor at the `source` passed to a JSONPath template), which may be left stored apart.
                self.restore_input(parent, join)
            if join.batch_sizes is None:  # a batch's items went through ItemSelector as they were batched
                child_input = self.select_item(parent, state, index, item, lambda: (
                    join.map_source() if join.selector_reads_input else join.source))
        self.snap.frames[child.id] = child
        join.running.append(child.id)
        if child.runs_child_execution:
            if self.machine.reads_execution_input:
                child.execution_input = child_input
            if self.tells_children(parent):
                size = join.batch_sizes[index] if join.batch_sizes is not None else 1
                self.child_changed(parent, join, child, "RUNNING", input=self.text(child_input), item_count=size)
        self.enter(child, program.start_at, child_input)
        self.queue.append(child.id)

    def resume_child(self: _Run, parent: Frame, state: State, join: Join, child: Frame) -> None:
        """Redrive a child that did not succeed — a Parallel branch, a Map iteration, a Standard child
        execution of a Map Run: as RedriveExecution continues an execution, it enters the state where it
        stopped again, and the states it completed before do not run again."""
        join.inputs.pop(child.index, None)  # it does not start from its item again
        retained = child.join or child.failed_join
        if child.join is not None:  # stopped while waiting for its own children: its input may be stored apart
            self.restore_input(child, child.join)
        child.done = False
        child.waiting = child.task_id = child.timer_id = None
        child.join = child.failed_join = None
        child.stopped_ms = 0
        assert child.state is not None
        join.running.append(child.id)
        if child.runs_child_execution:
            child.execution_redrives += 1
            if self.tells_children(parent):
                self.child_changed(parent, join, child, "RUNNING", redriven=True)
        elif join.kind == "map":  # an inline iteration starts again in this history, as a new one does
            child.prev = join.map_pointer
            self.emit(child, "MapIterationStarted", {"index": child.index, "name": state.name})
        else:  # a branch's events follow the redriven Parallel's, as a new branch's do
            child.prev = parent.prev
        self.enter(child, child.state, child.state_input)
        child.redrive_join = retained
        self.queue.append(child.id)

    def child_done(self: _Run, parent: Frame, child: Frame, output: Any, failure: Failure | None) -> None:
        join = parent.join
        state = self.current(parent)
        if join is None or child.id not in join.running:
            self.drop_frame(child.id)
            return
        join.running.remove(child.id)
        if child.runs_child_execution and self.tells_children(parent):
            if failure is None:
                self.child_changed(parent, join, child, "SUCCEEDED", output=self.text(output))
            else:
                self.child_changed(parent, join, child, "FAILED", error=failure.error, cause=failure.cause)
        keeps = self.keeps(join)
        if failure is not None and (keeps or join.distributed):
            # A child that failed: a redrive runs it again — from where it failed, so its frame is kept,
            # but for an Express child execution, which starts again.
            join.unsuccessful[child.index] = child.id if keeps else ""
            child.stopped_ms = self.now
        if failure is None or not keeps:
            self.drop_frame(child.id)  # and what its own joins kept (a Map or Parallel it retried)
        batch = join.batch_sizes[child.index] if join.batch_sizes is not None else 1
        # A distributed Map's iterations are child executions: their ends are in their own histories.
        iteration = join.kind == "map" and not join.distributed
        if failure is None:
            join.succeeded += 1
            join.items_succeeded += batch
            join.results[child.index] = output
            if iteration:
                last_inner = child.prev
                self.emit(child, "MapIterationSucceeded", {"index": child.index, "name": state.name})
                # The next iteration chains to this one's last inner event, not to its Succeeded event.
                join.map_pointer = last_inner
        else:
            join.failed += 1
            join.items_failed += batch
            if iteration:
                self.emit(child, "MapIterationFailed", {"index": child.index, "name": state.name}, move=False)
                join.map_pointer = child.prev
            if join.kind == "map" and self.tolerated(join):  # its result is null: it has none in `results`
                self.continue_join(parent, state)
                return
            if not join.distributed:
                parent.prev = child.prev
            self.join_failed(parent, state, join, failure)
            return
        self.continue_join(parent, state)

    def join_failed(self: _Run, parent: Frame, state: State, join: Join, failure: Failure) -> None:
        """A child failed beyond what the join tolerates: stop the others and fail the Map or Parallel
        state (a Map with thresholds, or a distributed one, fails with ExceedToleratedFailureThreshold)."""
        self.restore_input(parent, join)
        self.abort_children(parent)
        parent.join = None
        if parent.failed_join is not join:  # a Map or Parallel retried: only its last attempt is redriven
            self.drop_kept(parent.failed_join)
        parent.failed_join = join
        parent.waiting = None
        kind = "Map" if join.kind == "map" else "Parallel"
        thresholds = join.tolerated_count is not None or join.tolerated_percentage is not None
        if join.kind == "map" and (thresholds or join.distributed):
            failure = THRESHOLD_EXCEEDED
        if join.distributed:
            self.map_run_ended(parent, join, "FAILED")
            self.emit(parent, "MapRunFailed", error_details(failure))
        self.container_failed(parent, state, kind, failure)

    def update_map_run(self: _Run, event: MapRunUpdated) -> None:
        """UpdateMapRun: the running distributed Map whose Map Run it names takes the new settings. A
        larger MaxConcurrency starts more children now; a smaller one stops none, and starts no other
        until fewer run. A smaller tolerance that the failures so far exceed fails the Map Run now."""
        for frame in list(self.snap.frames.values()):
            join = frame.join
            if frame.done or join is None or not join.distributed or join.map_run_arn != event.map_run_arn:
                continue
            if event.max_concurrency is not None:
                join.max_concurrency = event.max_concurrency
            if event.tolerated_count is not None:
                join.tolerated_count = event.tolerated_count
            if event.tolerated_percentage is not None:
                join.tolerated_percentage = event.tolerated_percentage
            if frame.waiting == "items":  # its items are not read yet: the settings count once they are
                return
            state = self.current(frame)
            if (join.items_failed if join.batch_sizes is not None else join.failed) and not self.tolerated(join):
                self.join_failed(frame, state, join, THRESHOLD_EXCEEDED)
            else:
                self.continue_join(frame, state)
            return

    def tolerated(self: _Run, join: Join) -> bool:
        """Within every configured threshold (a Map fails when either one is exceeded)."""
        if join.tolerated_count is None and join.tolerated_percentage is None:
            return False
        # Thresholds count items: a failed batch's items all failed.
        failed = join.items_failed if join.batch_sizes is not None else join.failed
        if join.tolerated_count is not None and failed > join.tolerated_count:
            return False
        total = sum(join.batch_sizes) if join.batch_sizes is not None else join.size
        return not (join.tolerated_percentage is not None and total
                    and failed * 100.0 / total > join.tolerated_percentage)

    def continue_join(self: _Run, parent: Frame, state: State) -> None:
        join = parent.join
        assert join is not None
        total = len(join.order) if join.order is not None else join.size
        # As many as MaxConcurrency allows (0: no limit): one for the child that ended, more if an
        # UpdateMapRun raised it, none while more run than it now allows.
        while join.next_index < total and (join.max_concurrency <= 0 or len(join.running) < join.max_concurrency):
            self.start_child(parent, state)
        if join.next_index >= total and not join.running:
            self.join_finished(parent, state)

    def join_finished(self: _Run, parent: Frame, state: State, written: dict[str, Any] | None = None) -> None:
        """`written`: the ResultWriter's answer, once a Map Run that writes its results has written them."""
        join = parent.join
        assert join is not None
        if written is None and join.distributed and self.tells_children(parent) \
                and is_set(state.result_writer) and isinstance(state.result_writer, dict) \
                and "Resource" in state.result_writer:
            try:
                self.write_results(parent, state, join, state.result_writer)
            except FailureError as error:
                self.map_run_failed(parent, state, error)
            return
        parent.join = None
        parent.waiting = None
        if _result_reads_input(state):
            self.restore_input(parent, join)
        elif parent.state_input is STORED:
            self.unread_inputs[parent.id] = join  # read back only if a failure needs it (`settle_input`)
        kind = "Map" if join.kind == "map" else "Parallel"
        self.drop_kept(join)  # its tolerated failures: the Map succeeded, no redrive runs them again
        if join.distributed:
            self.map_run_ended(parent, join, "SUCCEEDED", results_written=int((written or {}).get("resultsWritten", 0)))
            self.emit(parent, "MapRunSucceeded")
        last = self.last_event_in(parent)
        # AWS chains both the Succeeded and the Exited event to the last event of the children.
        self.emit(parent, f"{kind}StateSucceeded", prev=last, move=False)
        parent.prev = last
        # A result that leaves the state as it is stays JSON text: a Map of many items never holds
        # all its results as objects (the next state's entry parses it; an execution's end does not).
        result: Any
        if written is not None:  # the results are in the object store: the Map's result says where
            result = {"MapRunArn": join.map_run_arn,
                      "ResultWriterDetails": {"Bucket": written.get("Bucket"), "Key": written.get("Key")}}
        else:
            result = jsontext.RawJson(join.result_text()) if _result_is_output(state) else join.result_list()
        self.guarded(parent, lambda: self.finish_result(parent, state, result))

    def write_results(self: _Run, frame: Frame, state: State, join: Join, writer: dict[str, Any]) -> None:
        """Ask the shell to write a Map Run's results (a `ScheduleTask` of kind `WRITE_RESULTS`, with the
        ResultWriter's Parameters or Arguments resolved): the Map waits for its answer, the manifest's
        `{"Bucket", "Key"}`, before MapRunSucceeded. It records no event of its own."""
        parameters = self.shell_parameters(frame, state, writer, join.map_source)
        request = {"Parameters": parameters, "WriterConfig": writer.get("WriterConfig") or {},
                   "MapRunArn": join.map_run_arn}
        self.ask_shell(frame, state, WRITE_RESULTS, str(writer.get("Resource", "")), request, "results", "results")

    def results_written(self: _Run, frame: Frame, details: Any) -> None:
        """The shell wrote a Map Run's results: the Map Run succeeds, and the Map's result says where."""
        if frame.join is not None:
            self.join_finished(frame, self.current(frame), written=details if isinstance(details, dict) else {})

    def restore_input(self: _Run, frame: Frame, join: Join) -> None:
        """Read back the state input of a frame waiting for `join` if the shell let go of it (or parse
        it if it was kept as text)."""
        if frame.state_input is STORED:
            frame.state_input = join.map_source()
        frame.state_input = jsontext.materialize(frame.state_input)

    def container_failed(self: _Run, frame: Frame, state: State, kind: str, failure: Failure) -> None:
        # A Map or Parallel that is about to be retried records no StateFailed event.
        if self.retrier_for(frame, state, failure) is None:
            self.emit(frame, f"{kind}StateFailed")
        self.state_failed(frame, failure)

    def keeps(self: _Run, join: Join) -> bool:
        """Whether a join keeps the frames of its children that did not succeed, for a redrive to continue
        each from the state where it stopped: in a Standard execution (Express ones cannot be redriven), a
        Parallel's or an inline Map's (a redrive reruns only the branches and iterations that failed or
        were aborted, each from its unsuccessful step), and a distributed Map's whose child executions are
        STANDARD (EXPRESS ones start again)."""
        return self.records_children and not join.express_children

    def abort_children(self: _Run, parent: Frame) -> None:
        if parent.join is not None:
            self.stop_children(parent.join, parent)

    def stop_children(self: _Run, join: Join, parent: Frame | None = None) -> None:
        """Cut short the children of `join` that still run (the join failed, or the execution stopped).
        A redrive runs them again: a join that `keeps` them keeps each where it stopped; a distributed
        Map's Express child executions are kept by index only. In an Express execution they are gone."""
        for child_id in list(join.running):
            child = self.snap.frames.get(child_id)
            if child is not None and child.runs_child_execution:
                owner = parent or (self.snap.frames.get(child.parent) if child.parent else None)
                if owner is not None and self.tells_children(owner):
                    self.child_changed(owner, join, child, "ABORTED")
            if child is not None and self.keeps(join):
                self.stop_frame(child)
                join.unsuccessful[child.index] = child.id
                continue
            if child is not None and join.distributed:
                join.unsuccessful[child.index] = ""
            self.abort_frame(child_id)
        join.running.clear()
        self.abort_waiting(join, parent)

    def abort_waiting(self: _Run, join: Join, parent: Frame | None) -> None:
        """The child executions a redriven Map Run had yet to run again when it was cut short: aborted, as
        AWS counts them (a later redrive still continues them)."""
        for frame_id in join.redriving.values():
            child = self.snap.frames.get(frame_id) if frame_id else None
            owner = parent or (self.snap.frames.get(child.parent) if child is not None and child.parent else None)
            if child is not None and child.runs_child_execution and owner is not None and self.tells_children(owner):
                self.child_changed(owner, join, child, "ABORTED")

    def stop_frame(self: _Run, frame: Frame) -> None:
        """End a child cut short, keeping its frame at the state it was in: its task or timer is cancelled
        (if still live), and what it ran of its own is cut short too (its Map Run aborted)."""
        frame.done = True
        frame.stopped_ms = self.now
        if frame.task_id and self.snap.tasks.pop(frame.task_id, None) is not None:
            self.commands.append(CancelTask(frame.task_id))
        if frame.timer_id and self.snap.timers.pop(frame.timer_id, None) is not None:
            self.commands.append(CancelTimer(frame.timer_id))
        frame.waiting = frame.task_id = frame.timer_id = None
        if frame.join is not None:
            self.map_run_ended(frame, frame.join, "ABORTED")
            self.stop_children(frame.join, frame)

    def abort_frame(self: _Run, frame_id: str) -> None:
        frame = self.snap.frames.pop(frame_id, None)
        if frame is None:
            return
        frame.done = True
        if frame.task_id:
            self.snap.tasks.pop(frame.task_id, None)
            self.commands.append(CancelTask(frame.task_id))
        if frame.timer_id:
            self.snap.timers.pop(frame.timer_id, None)
            self.commands.append(CancelTimer(frame.timer_id))
        if frame.join is not None:
            self.map_run_ended(frame, frame.join, "ABORTED")
            for child_id in frame.join.running:
                child = self.snap.frames.get(child_id)
                if child is not None and child.runs_child_execution and self.tells_children(frame):
                    self.child_changed(frame, frame.join, child, "ABORTED")
                self.abort_frame(child_id)
            self.abort_waiting(frame.join, frame)
        for join in (frame.join, frame.failed_join, frame.redrive_join):
            self.drop_kept(join)

    def drop_kept(self: _Run, join: Join | None) -> None:
        """Forget the children a join kept for a redrive that will not come (the Map or Parallel ended,
        or is run afresh): their frames, and those their own joins kept."""
        if join is None or not (join.unsuccessful or join.redriving):
            return
        for frame_id in (*join.unsuccessful.values(), *join.redriving.values()):
            if frame_id:
                self.drop_frame(frame_id)
        join.unsuccessful, join.redriving = {}, {}

    def drop_frame(self: _Run, frame_id: str) -> None:
        frame = self.snap.frames.pop(frame_id, None)
        if frame is not None:
            for join in (frame.join, frame.failed_join, frame.redrive_join):
                self.drop_kept(join)

    def kept_frame_ids(self: _Run, join: Join | None) -> set[str]:
        """The frames a join keeps for a redrive, and those they keep in turn."""
        found: set[str] = set()
        for frame_id in (*join.unsuccessful.values(), *join.redriving.values()) if join is not None else ():
            frame = self.snap.frames.get(frame_id) if frame_id else None
            if frame is not None:
                found.add(frame_id)
                for nested in (frame.join, frame.failed_join, frame.redrive_join):
                    found |= self.kept_frame_ids(nested)
        return found

    def map_run_ended(self: _Run, frame: Frame, join: Join, status: str, *, batched: bool = False,
                      results_written: int = 0) -> None:
        """Tell the shell how a distributed Map's Map Run ended (`MapRunEnded`): what its child
        executions did is not in this history. `batched`: it has an ItemBatcher that made no batches.
        A silent frame's Map Run (in a child execution) has no MapRunStarted here."""
        if not join.distributed or frame.silent:
            return
        items, executions = (join.succeeded, join.failed), None
        lost = len(join.not_redrivable)
        not_redrivable = (lost, lost)
        if join.batch_sizes is not None:
            items = (join.items_succeeded, join.items_failed)
            executions = (join.size, join.succeeded, join.failed)
            not_redrivable = (sum(join.batch_sizes[i] for i in join.not_redrivable), lost)
        elif batched:
            executions = (0, 0, 0)
        self.commands.append(MapRunEnded(
            started_event_id=frame.prev, status=status, items=items, executions=executions,
            max_concurrency=join.max_concurrency, tolerated_failure_percentage=float(join.tolerated_percentage or 0.0),
            tolerated_failure_count=int(join.tolerated_count or 0), not_redrivable=not_redrivable,
            total_items=(sum(join.batch_sizes) if join.batch_sizes is not None else join.size)
            if self.reads_items(self.current(frame)) else None, results_written=results_written))

    def child_changed(self: _Run, parent: Frame, join: Join, child: Frame, status: str, *, input: str | None = None,
                      item_count: int = 1, output: str | None = None, error: str | None = None,
                      cause: str | None = None, redriven: bool = False) -> None:
        """Tell the shell that a child execution of a distributed Map's Map Run started, waits to be
        redriven or ended (`ChildExecutionChanged`): its events are not in this history. Only for the
        Map Runs the shell stores: callers ask `tells_children` first (before making any text for it)."""
        self.commands.append(ChildExecutionChanged(join.map_run_arn, child.index, status, self.now, join.child_attempt,
                                                   join.express_children, input, item_count, output, error, cause,
                                                   redriven))
        if not join.express_children:  # AWS keeps no history of an Express execution
            self.child_history(join, child, status, input, output, error, cause, redriven)

    def child_history(self: _Run, join: Join, child: Frame, status: str, input: str | None, output: str | None,
                      error: str | None, cause: str | None, redriven: bool) -> None:
        """The events that open and close a STANDARD child execution's own history, as an execution's: it
        starts with ExecutionStarted (event 1; its first state's events chain to 0, as AWS records them),
        continues after a redrive with ExecutionRedriven, and ends with ExecutionSucceeded, ExecutionFailed
        or ExecutionAborted. Its states' events come between them (`emit_in_child`)."""
        if status == "RUNNING" and not redriven:
            child.execution_next_event_id = 1
            child.prev = 0
            self.child_log(child, join)
            details = history.execution_started_details(input or "null", self.snap.execution.role_arn)
            self.emit(child, "ExecutionStarted", details, move=False)
        elif not child.execution_next_event_id:
            return  # started before its events were recorded: it has no history to go on with
        elif status == "RUNNING":
            self.child_log(child, join)
            child.prev = self.emit(child, "ExecutionRedriven", {"redriveCount": child.execution_redrives},
                                   prev=child.execution_next_event_id - 1)
        elif status == "SUCCEEDED":
            self.emit(child, "ExecutionSucceeded", {"output": output, "outputDetails": {"truncated": False}})
        elif status == "FAILED":
            self.emit(child, "ExecutionFailed", {k: v for k, v in (("error", error), ("cause", cause)) if v})
        elif status == "ABORTED" and not child.done:  # one still waiting for its redrive ended before
            self.child_log(child, join)  # its Map Run's frame may be gone already (`abort_frame`)
            self.emit(child, "ExecutionAborted", {}, prev=0)  # from outside the child, as a stop (`finish_execution`)

    def child_root(self: _Run, frame: Frame) -> Frame | None:
        """The frame that runs the child execution `frame` is part of (the nearest, for a Map Run inside
        another), or None if it is gone."""
        current: Frame | None = frame
        while current is not None and not current.runs_child_execution:
            current = self.snap.frames.get(current.parent) if current.parent else None
        return current

    def child_log(self: _Run, child: Frame, join: Join | None = None) -> list[list[Any]]:
        """This step's events of the child execution that frame `child` runs (`Step.child_events`); `join`
        is its Map Run's, else the one its parent frame waits for."""
        log = self.child_logs.get(child.id)
        if log is None:
            if join is None:
                parent = self.snap.frames[child.parent] if child.parent else None
                join = parent.join if parent is not None else None
                assert join is not None, "a child execution's events come while its Map Run runs"
            log = self.child_logs[child.id] = self.child_events.setdefault((join.map_run_arn, child.index), [])
        return log

    def tells_children(self: _Run, parent: Frame) -> bool:
        """Whether the shell hears of the child executions of the distributed Map `parent` runs: not for a
        Map Run inside another child execution (a silent parent), nor in an Express execution, whose Map
        Runs the shell does not store."""
        return self.records_children and not parent.silent

    def child_execution(self: _Run, frame: Frame) -> tuple[Frame, Join] | None:
        """The child execution of a distributed Map that a frame runs in — the frame that runs it (the
        nearest, for a Map Run inside another) and its Map Run's join — or None in the execution itself."""
        current: Frame | None = frame
        while current is not None and current.silent:
            parent = self.snap.frames.get(current.parent) if current.parent else None
            if current.runs_child_execution and parent is not None and parent.join is not None:
                return current, parent.join
            current = parent
        return None


# An ItemsPath that names object members only (`$`, `$.items`, `$.order.lines`): one `array_runs` reads.
_MEMBER_PATH = re.compile(r"\$(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _items_keys(state: State) -> tuple[str, ...] | None:
    """The member names of a JSONPath Map's ItemsPath, if it is that simple."""
    path = state.items_path if is_set(state.items_path) else "$"
    if not isinstance(path, str) or not _MEMBER_PATH.fullmatch(path):
        return None
    return tuple(path.split(".")[1:])


def takes_items_as_text(state: State) -> bool:
    """Whether a Map state can run on its input kept as JSON text (`RawJson`): it selects its items
    by member names and reads nothing else of its input as it starts and while it runs — its items
    are then parsed a run at a time as the iterations start, never all at once."""
    return (state.type is StateType.MAP and state.query_language is QueryLanguage.JSONPATH
            and not is_set(state.item_reader) and not is_set(state.item_batcher) and (not is_set(state.input_path) or state.input_path == "$")
            and _items_keys(state) is not None and not _selector_reads_input(state)
            and not (state.max_concurrency_path or state.tolerated_failure_count_path
                     or state.tolerated_failure_percentage_path))


def _selector_reads_input(state: State) -> bool:
    """Whether a Map's ItemSelector may read the Map's input, not only `$$.Map.Item` and the rest of
    the context object (then the input stays in memory while the Map runs)."""
    return is_set(state.item_selector) and _reads_input(state.item_selector, state.query_language)


def _result_reads_input(state: State) -> bool:
    """Whether leaving a Map or Parallel state with its results reads the state's input: a JSONPath
    ResultPath other than `$` (null keeps the input as the output), or a JSONata Output or Assign
    that may read `$states.input`."""
    if state.query_language is QueryLanguage.JSONATA:
        return any(is_set(field) and _reads_input(field, state.query_language) for field in (state.output, state.assign))
    return is_set(state.result_path) and state.result_path != "$"


def _result_is_output(state: State) -> bool:
    """Whether a Map's or Parallel's result becomes its output unchanged: no ResultSelector, Assign or
    JSONata Output reads it, and ResultPath and OutputPath are `$`."""
    if is_set(state.assign) and state.assign is not None:
        return False
    if state.query_language is QueryLanguage.JSONATA:
        return not is_set(state.output)
    return (not is_set(state.result_selector) and (not is_set(state.result_path) or state.result_path == "$")
            and (not is_set(state.output_path) or state.output_path == "$"))


def _reads_input(template: Any, language: QueryLanguage) -> bool:
    """Whether a template may read the state's input. Conservative: in JSONPath any `$` in its
    strings that is not part of `$$` (the context object); in JSONata any `$states` other than
    `$states.context`/`.result`/`.errorOutput`, or a bare `$`."""
    for text in _strings(template):
        if language is QueryLanguage.JSONATA:
            rest = _JSONATA_NOT_INPUT.sub("", text)
            if "$states" in rest or _BARE_DOLLAR.search(rest):
                return True
        elif "$" in text.replace("$$", ""):
            return True
    return False


_JSONATA_NOT_INPUT = re.compile(r"\$states\.(?:context|result|errorOutput)(?!\w)")
_BARE_DOLLAR = re.compile(r"\$(?![\w$])")


def _strings(value: Any) -> Iterator[str]:
    """Every string value in a JSON template (not its keys), at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _as_number(value: Any, kind: type[int] | type[float]) -> int | float | None:
    """A number of the kind, or a string holding one (AWS reads `"1"` from a variable as 1)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (kind is float and isinstance(value, float)):
        return kind(value)
    if isinstance(value, str):
        try:
            return kind(value.strip())
        except ValueError:
            return None
    return None
