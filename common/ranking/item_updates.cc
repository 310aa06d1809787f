#include "common/ranking/item_updates.h"

#include "common/redis/subscriber.h"

namespace recstack::ranking {

ItemUpdatesFollower::ItemUpdatesFollower(const redis::Options& redis, const redis::Keyspace& keys,
                                         FeatureAssembler& features)
    : subscriber_(redis, {keys.ItemUpdates()},
                  [&features](std::string_view, std::string_view message) {
                    features.ForgetItems(redis::ParseUpdates(message));
                  }) {
  subscriber_.set_on_subscribed([&features] { features.ForgetAllItems(); });
}

void ItemUpdatesFollower::Start() { subscriber_.Start(); }

void ItemUpdatesFollower::Stop() { subscriber_.Stop(); }

}  // namespace recstack::ranking
