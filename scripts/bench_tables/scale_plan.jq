# input: scale.json
# The sizing for 100M users, 10M items, 20k Recommend/s and 50k events/s,
# computed from scripts/scale.sh's measured inputs and the assumptions
# named in the table.
include "lib";
def gb: . / 1e9;
. as $r
| 1e8 as $users | 1e7 as $items | 20000 as $recs | 50000 as $events
| 25e9 as $shard_bytes | 0.6 as $util | 3600 as $stream_s
| ($users * ($r.bytes.per_user_factors + $r.bytes.per_user_history)) as $user_b
| ($items * ($r.bytes.per_item_factors + $r.bytes.per_item_metadata)) as $item_b
| ($events * 86400 * $r.bytes.per_event_dedupe_marker) as $marker_day
| ($events * 3600 * $r.bytes.per_event_dedupe_marker) as $marker_hour
| ($events * $stream_s * $r.bytes.per_event_stream_entry) as $stream_b
| ($user_b + $item_b + $marker_hour + $stream_b) as $total
| (($total / $shard_bytes) | ceil) as $mem_shards
| (($events / $r.ingest.cluster_events_per_second_per_master) | ceil) as $write_shards
| ([$mem_shards, $write_shards] | max) as $shards
| ([["", "computed", "from"]]
   + [["user factors + histories", "\($user_b | gb | fixed(1)) GB", "100M x (per-user factors + history)"],
      ["item factors + metadata", "\($item_b | gb | fixed(1)) GB", "10M x (per-item factors + metadata)"],
      ["dedupe markers, 24 h window (the default)", "\($marker_day | gb | fixed(0)) GB", "50k/s x 86,400 s x per-marker bytes"],
      ["dedupe markers, 1 h window (`--dedup-ttl-seconds 3600`)", "\($marker_hour | gb | fixed(1)) GB", "50k/s x 3,600 s x per-marker bytes"],
      ["event streams, 1 h of events (`--stream-maxlen` per partition)", "\($stream_b | gb | fixed(1)) GB", "50k/s x 3,600 s x per-entry bytes"],
      ["total with 1 h markers", "\($total | gb | fixed(1)) GB", "(each master has one replica: twice this in RAM)"],
      ["masters for memory", ($mem_shards | tostring), "25 GB of data per master (a 32 GB node)"],
      ["masters for 50k events/s", ($write_shards | tostring), "the measured events/s per master (a lower bound: 2 shared cores)"],
      ["masters (the larger), with one replica each", "\($shards) + \($shards)", "event partitions: \($shards * 4) (4 per master, so they can be moved)"]]
   + [("gateway", "retrieval", "ranking") as $s
      | ["\($s) cores at 20k Recommend/s",
         ($recs * $r.cpu_us_per_request[$s] / 1e6 / $util | ceil | tostring),
         "\($r.cpu_us_per_request[$s] | fixed(0)) CPU us per Recommend at 60% utilisation"]]
   + [["ingestion cores at 50k events/s", ($events / $r.ingest.single_events_per_second / $util | ceil | tostring),
       "the measured events/s of one service process at 60%"]]
   | table)
