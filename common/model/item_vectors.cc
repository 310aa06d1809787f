#include "common/model/item_vectors.h"

#include <algorithm>
#include <utility>

#include "common/log/log.h"

namespace recstack::model {

ItemVectors MakeItemVectors(ItemFactors items) {
  ItemVectors v;
  v.meta = std::move(items.meta);
  const int64_t n = static_cast<int64_t>(items.item_ids.size()), d = v.meta.factors;
  v.factors.Resize(n, d);
  std::copy(items.factors.begin(), items.factors.end(), v.factors.data());
  v.index = IdIndex(items.item_ids);
  return v;
}

std::unique_ptr<ItemVectorsHolder> MakeItemVectorsHolder(ModelStore& store,
                                                         redis::Options redis_options,
                                                         redis::Keyspace keys,
                                                         std::chrono::milliseconds poll_interval) {
  return std::make_unique<ItemVectorsHolder>(
      store, std::move(redis_options), std::move(keys),
      FollowOptions{.slot = Slot::kFactors, .poll_interval = poll_interval, .name = "item vectors"},
      [](ModelStore& st,
         const std::string& version) -> absl::StatusOr<std::shared_ptr<ItemVectors>> {
        auto items = st.LoadItems(version);
        if (!items.ok()) return items.status();
        auto v = std::make_shared<ItemVectors>(MakeItemVectors(*std::move(items)));
        log::Info("item vectors loaded",
                  {{"version", version}, {"items", v->index.size()}, {"factors", v->meta.factors}});
        return v;
      });
}

}  // namespace recstack::model
