"""Cost per evaluation of a JSONata state's template against the same JSONPath payload template.

Run: `.venv/bin/python bench/bench_jsonata.py [--size N] [--seconds S]`. Prints microseconds per evaluation for
each pair and the JSONata/JSONPath ratio; `--size` grows the state input (rows in an array) to show how both
scale with payload size. Compilation is outside the timed loop for both languages (the interpreter compiles
once per definition).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from stateway.asl import jsonata
from stateway.asl.payload import apply_template
from stateway.testing.fixed import FixedEnv

# (name, JSONPath template, the same template in JSONata)
PAIRS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "one field",
        {"id.$": "$.order.id"},
        {"id": "{% $states.input.order.id %}"},
    ),
    (
        "five fields + variable + context",
        {
            "id.$": "$.order.id",
            "customer.$": "$.order.customer.name",
            "first.$": "$.order.rows[0].sku",
            "region.$": "$region",
            "execution.$": "$$.Execution.Id",
            "constant": "v1",
        },
        {
            "id": "{% $states.input.order.id %}",
            "customer": "{% $states.input.order.customer.name %}",
            "first": "{% $states.input.order.rows[0].sku %}",
            "region": "{% $region %}",
            "execution": "{% $states.context.Execution.Id %}",
            "constant": "v1",
        },
    ),
    (
        "intrinsic vs function",
        {"count.$": "States.ArrayLength($.order.rows)", "hash.$": "States.Hash($.order.id, 'SHA-256')"},
        {
            "count": "{% $count($states.input.order.rows) %}",
            "hash": "{% $hash($states.input.order.id, 'SHA-256') %}",
        },
    ),
    (
        "whole input",
        {"all.$": "$"},
        {"all": "{% $states.input %}"},
    ),
]


def _data(rows: int) -> dict[str, Any]:
    return {
        "order": {
            "id": "o-1",
            "customer": {"name": "Ada", "tier": "gold"},
            "rows": [{"sku": f"s{i}", "qty": i % 5, "price": 1.25 * i} for i in range(rows)],
        }
    }


def _time(call: Callable[[], Any], seconds: float) -> float:
    call()
    count, started = 0, time.perf_counter()
    while True:
        for _ in range(50):
            call()
        count += 50
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=20, help="rows in the input's array")
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    args = parser.parse_args()
    data = _data(args.size)
    context = {"Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:m:e"}}
    variables = {"region": "eu-west-1"}
    env = FixedEnv()
    states = {"input": data, "context": context}
    print(f"input rows: {args.size}")
    print(f"{'template':36s} {'JSONPath us':>12s} {'JSONata us':>12s} {'ratio':>7s}")
    for name, path_template, ata_template in PAIRS:
        for value in ata_template.values():
            if jsonata.is_expression(value):
                jsonata.compile_expression(value)  # once per definition, as the interpreter does
        expected = apply_template(path_template, data, context, variables, env, "Parameters")
        got = jsonata.evaluate_template(
            ata_template, states=states, variables=variables, env=env, field="Arguments"
        )
        assert got == expected, (name, got, expected)
        path_us = _time(
            lambda t=path_template: apply_template(t, data, context, variables, env, "Parameters"),
            args.seconds,
        )
        ata_us = _time(
            lambda t=ata_template: jsonata.evaluate_template(
                t, states=states, variables=variables, env=env, field="Arguments"
            ),
            args.seconds,
        )
        print(f"{name:36s} {path_us:12.1f} {ata_us:12.1f} {ata_us / path_us:7.2f}")


if __name__ == "__main__":
    main()
