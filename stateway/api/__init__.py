"""The Step Functions HTTP API (AWS JSON 1.0) over the engine."""
