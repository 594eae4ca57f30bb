# mypy: disable-error-code="misc"
# (The methods take `self: _Run`, the class that mixes this one in; mypy reports such self-types as "misc".)
"""JSONata states in the interpreter: the `$states` binding, Output, Assign, Condition and friends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stateway.asl import choice, jsonata
from stateway.asl.causes import shown
from stateway.asl.errors import ErrorName, FailureError
from stateway.asl.frames import Frame
from stateway.asl.model import UNSET, State, is_set
from stateway.asl.timestamps import MAX_SECONDS, parse_timestamp
from stateway.asl.variables import checked_assignment

if TYPE_CHECKING:
    from stateway.asl.interpreter import _Run


class JsonataStates:
    """The part of an `advance` run that evaluates `{% … %}` fields of JSONata states."""

    def states_binding(self: _Run, frame: Frame, *, item: tuple[int, Any] | None = None, task_token: str | None = None,
                       **extra: Any) -> dict[str, Any]:
        """The `$states` variable: input, context, and result or errorOutput where they exist."""
        binding = {"input": frame.state_input, "context": self.context(frame, item=item, task_token=task_token)}
        binding.update({k: v for k, v in extra.items() if v is not UNSET})
        return binding


    def ja(self: _Run, frame: Frame, template: Any, field_name: str, states: dict[str, Any]) -> Any:
        return jsonata.evaluate_template(template, states=states, variables=frame.variables, env=self.env,
                                         field=field_name)


    def ja_assign(self: _Run, frame: Frame, assign: Any, states: dict[str, Any]) -> dict[str, Any] | None:
        if not is_set(assign) or assign is None:
            return None
        value = self.ja(frame, assign, "Assign", states)
        return checked_assignment(dict(value) if isinstance(value, dict) else {})


    def ja_leave(self: _Run, frame: Frame, state: State, *, result: Any = UNSET, next_name: str | None = None,
                 assign: Any = UNSET, output: Any = UNSET) -> None:
        """Assign, then Output (both see the variables from before this state), then leave."""
        assign = state.assign if assign is UNSET else assign
        output = state.output if output is UNSET else output
        states = self.states_binding(frame, result=result)
        assigned = self.ja_assign(frame, assign, states)
        if is_set(output):
            value = self.ja(frame, output, "Output", states)
        else:
            value = result if is_set(result) else frame.state_input
        self.exit_state(frame, state, value, next_name, assigned=assigned)


    def ja_value(self: _Run, frame: Frame, value: Any, field_name: str, states: dict[str, Any] | None = None) -> Any:
        """A field that may hold a literal or a `{% %}` expression."""
        if jsonata.is_expression(value):
            return self.ja(frame, value, field_name, states or self.states_binding(frame))
        return value


    def run_choice_jsonata(self: _Run, frame: Frame, state: State) -> None:
        states = self.states_binding(frame)
        for index, rule in enumerate(state.choices):
            if self.condition(frame, rule.expression, f"Choices[{index}]/Condition", states):
                self.ja_leave(frame, state, next_name=rule.next,
                              assign=rule.assign if rule.assign is not None else UNSET,
                              output=rule.output if rule.has_output else UNSET)
                return
        if state.default is not None:
            self.ja_leave(frame, state, next_name=state.default)
            return
        raise FailureError(ErrorName.NO_CHOICE_MATCHED.value, None)


    def condition(self: _Run, frame: Frame, expression: Any, field_name: str, states: dict[str, Any]) -> bool:
        text = getattr(expression, "expression", None)
        if isinstance(text, bool):
            return text
        if isinstance(text, str):
            value = self.ja(frame, text, "Condition", states)
            if not isinstance(value, bool):
                raise jsonata.type_failure(text, "Condition", "boolean", value)
            return value
        return choice.evaluate_expression(expression, frame.state_input, states["context"], frame.variables)


    def wait_due_jsonata(self: _Run, frame: Frame, state: State) -> int:
        if is_set(state.seconds):
            seconds = self.ja_value(frame, state.seconds, "Seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise FailureError(ErrorName.QUERY_EVALUATION_ERROR.value,
                                   f"The Seconds field must be a non-negative integer, but was: {shown(seconds)}",
                                   location="Seconds")
            return self.now + int(seconds) * 1000
        if is_set(state.timestamp):
            text = self.ja_value(frame, state.timestamp, "Timestamp")
            due = parse_timestamp(text)
            if due is None:
                raise FailureError(ErrorName.QUERY_EVALUATION_ERROR.value,
                                   "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time "
                                   f"format string: {shown(text)}", location="Timestamp")
            return due
        return self.now


    def ja_seconds(self: _Run, frame: Frame, value: Any, field_name: str, states: dict[str, Any]) -> int | None:
        if not is_set(value) or value is None:
            return None
        seconds = self.ja_value(frame, value, field_name, states)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= MAX_SECONDS:
            raise FailureError(ErrorName.QUERY_EVALUATION_ERROR.value,
                               f"The {field_name} field must be a positive integer, but was: {shown(seconds)}",
                               location=field_name)
        return int(seconds)
