"""NATS JetStream plumbing shared by every selfeval process, one module per job.

- `connection`: the client (`connect`), refused credentials (`BusAuthError`);
- `topology`: the streams and buckets (`ensure_topology` by the admin, `bind_topology` by the parts);
- `state`: the submission-state store in KV and its change feed;
- `handoff`: the messages stages hand on (`Handoff`, `publish_handoff`) and the errors a handler raises;
- `stage_worker`: `StageWorker`, one stage's durable consumer with retries and dead-lettering;
- `service`: a service process (`serve`, `run_service`, signals, the status service).

Use cases built on it live elsewhere: submitting scans in `selfeval.intake`, publishing records in
`selfeval.publishing`.
"""
