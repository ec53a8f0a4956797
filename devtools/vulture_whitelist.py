"""Names vulture reports as unused that are used where it cannot see: by pydantic, typer, the
registries of rules, `vars()` and protocols. Only false positives belong here; dead code is deleted.

Listed as attribute accesses on a stand-in object, vulture's whitelist idiom.
"""

# ruff: noqa: B018  (a bare expression is how a whitelist marks a name as used)

from types import SimpleNamespace

_ = SimpleNamespace()

# pydantic: class configuration and validators are read by the model machinery.
_.model_config
_._records_belong_to_the_submission  # selfeval.contract.messages, @model_validator
_._records_are_scored  # selfeval.contract.messages, @model_validator
# pydantic fields set by the pipeline and read when the record is serialised.
_.pipeline_version
_.field_confidence
_.schema_version
_.because  # selfeval.contract.Suggestion: read by reviewers
_.claimed_by  # selfeval.review.routes.QueueItem, serialised
_.claimed_until
# Enum members reached by value (`Operator("≥")`), never by name.
_.eq
_.ge

# typer: commands and the callback are registered by decorator.
_._configure
_.verify
_.tail
_.topology
_.nats_accounts
_.schema
_.list_records  # selfeval review list
_.add_reviewer_command  # selfeval review add-reviewer

# StageCounters: reported whole through `vars()` in the status service.
_.retried
_.in_flight
_.processed

# The scorer's rules are registered by decorator (`@error_rule`, `@warning_rule`) and run from RULES.
_.check_header_complete
_.check_execution_rate
_.check_funding_score
_.check_funding_rows_add_up
_.check_weights_sum_to_100
_.check_total_weight
_.check_indicator_score_within_weight
_.check_total_score
_.check_grade
_.check_default_weights
_.check_quantitative_score
_.check_qualitative_score
_.check_deviation_reason
_.check_execution_rate_over_100
_.ERROR_RULES  # read by the tests of the rules, which check each error rule
_.WARNING_RULES

# Keyword parameters of protocol methods (the part of boto3's S3 client the outbox uses).
_.kwargs

# EmbeddedNats.restart: the tests restart the server in place (same port and store).
_.restart

# FastAPI routes are registered by decorator.
_.submit_scan
_.submission_state
_.page_image
_.bucket_event
_.healthz
_.readyz
_.prometheus_metrics
_.static  # selfeval.review.pages
_.sign_in
_.sign_out
_.queue_page
_.record_page

# Read by the review page's templates.
_.doubtful
_.suggestion

# Used outside the shipped packages: benchmarks/pipeline_bench.py follows states with watch_states,
# benchmarks/ocr_bench.py runs the PP-OCRv4 detector that mirror_detector prepares and reads one page
# image with OcrEngine.read_image.
_.watch_states
_.mirror_detector
_.read_image

# Read by the parser's tests: whether a numeric cell was read.
_.ok

# Protocol parameters name what implementations receive.
_.operation_name  # selfeval.outbox.S3Client.get_paginator
