"""Peer harnesses: the benchmark's workflows on DBOS Transact and on moto's Step Functions."""
