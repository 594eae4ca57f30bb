"""Task handlers: the code that does the work a Task state schedules."""
