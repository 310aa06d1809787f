# input: ingest.json
# recstack-bench-ingest: the service's ingestion rate, the Redis floor, and
# the training service's consumer reading the same stream into a snapshot.
include "lib";
[["events", "batch", "redis", "ingest events/s", "Redis floor events/s", "ingest / floor",
  "training consume events/s", "consume / ingest"],
 [(.events | tostring), (.batch | tostring), .redis, (.events_per_second | fixed(0)),
  (.redis_floor_events_per_second | fixed(0)), (.ratio | fixed(2)),
  (.training_consume_events_per_second | fixed(0)), (.consume_over_ingest | fixed(1))]]
| table
