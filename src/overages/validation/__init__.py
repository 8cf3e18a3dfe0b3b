"""Great Expectations: the free-allocation invariants as suites, a checkpoint, and its results.

- `frames`: the small tables the suites read, exported from the warehouse (SQL does the aggregating).
- `suites`: the expectations, each with a note of the rule it protects.
- `project`: the gx/ file project (data source, suites, validation definitions, checkpoint).
- `runner`: exports the frames, runs the checkpoint, and summarises what failed.
"""
