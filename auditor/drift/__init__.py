"""Drift: watched facts and their diff (pure), debouncing (pure), baselines and the SQLite state store.

- `auditor.drift.facts`: a snapshot's watched facts, each with the reads that vouch for it;
- `auditor.drift.diff`: `diff(old, new) -> list[Change]` over facts readable on both sides;
- `auditor.drift.debounce`: `advance(state, view, threshold=N)`: N cycles of a change make a drift event;
- `auditor.drift.cycle`: `record_cycle`: fold a completed cycle (pure), then persist cycle, state and events;
- `auditor.drift.store`: `StateStore`, one transaction per completed cycle, schema versioned (user_version);
- `auditor.drift.baseline`: what ``grants-auditor baseline approve|show|diff`` (`auditor.cli.baseline`) does.
"""
