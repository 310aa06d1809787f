#pragma once

// Keeps ranking's item-metadata cache in step with Redis: ingestion's
// UpsertItems announces the items it wrote on rs:items:updates
// (common/redis/item_hash.h), and this follower tells the FeatureAssembler
// to forget them, so that a changed title or category is served from the
// next request on (within the announcement's delivery, milliseconds), and
// an unchanged item is read once per TTL (an hour) instead of once per
// 5 min. Redis pub/sub loses what is published while no one listens:
// after every (re)subscription the whole cache is dropped, the only safe
// catch-up.

#include "common/ranking/features.h"
#include "common/redis/client.h"
#include "common/redis/keyspace.h"
#include "common/redis/subscriber.h"

namespace recstack::ranking {

class ItemUpdatesFollower {
 public:
  ItemUpdatesFollower(const redis::Options& redis, const redis::Keyspace& keys,
                      FeatureAssembler& features);
  void Start();
  void Stop();
  // True while subscribed (tests wait for it before upserting).
  bool connected() const { return subscriber_.connected(); }

 private:
  redis::Subscriber subscriber_;
};

}  // namespace recstack::ranking
