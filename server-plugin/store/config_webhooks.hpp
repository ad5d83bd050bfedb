// Store::sync_config_webhooks on any backend, in the caller's transaction: config webhooks no
// longer listed are deleted (with their log), listed ones get the config's URL and filter
// (`update`: the backend's one statement, true when such a config row was there) or are
// inserted with no secret (the config's secret is not stored).
#pragma once

#include <functional>
#include <vector>

#include "server-plugin/store.hpp"

namespace rollout::server {

inline Status sync_config_webhooks_on(StoreOps& ops, const std::vector<Webhook>& hooks,
                                      const std::function<Expected<bool>(const Webhook&)>& update) {
  auto listed = ops.list_webhooks();
  if (!listed) return listed.error();
  for (const auto& old : *listed) {
    if (old.source != "config") continue;
    bool kept = false;
    for (const auto& h : hooks) kept = kept || h.id == old.id;
    if (!kept) {
      if (auto gone = ops.delete_webhook(old.id); !gone) return gone.error();
    }
  }
  for (const auto& h : hooks) {
    auto updated = update(h);
    if (!updated) return updated.error();
    if (!*updated) {
      Webhook w = h;
      w.source = "config";
      w.secret.clear();
      if (auto st = ops.insert_webhook(w); !st) return st;
    }
  }
  return {};
}

}  // namespace rollout::server
