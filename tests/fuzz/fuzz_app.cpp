// The server's request pipeline (router, authentication, every JSON body parser) on hostile
// input. The input's first line is "METHOD TARGET", an optional second line a header
// ("Name: value"), the rest the body. A logged-in admin session is attached to half of the
// inputs so the handlers behind authentication are reached too. Each request goes through the
// header phase (App::admit) first, as the host sends it. Nothing may crash.
#include <unistd.h>
#include <cstdint>
#include <filesystem>
#include <string>

#include "common/crypto.hpp"
#include "platform/secret_file.hpp"
#include "server-plugin/app.hpp"

namespace {

rollout::server::App* app() {
  static std::unique_ptr<rollout::server::App> instance = [] {
    const auto dir =
        std::filesystem::temp_directory_path() / ("rollout-fuzz-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto dkey = rollout::crypto::PrivateKey::generate().value();
    auto rkey = rollout::crypto::PrivateKey::generate().value();
    (void)rollout::platform::write_new_secret_file((dir / "d.key").string(), dkey.pem());
    FILE* f = fopen((dir / "r.pub").c_str(), "w");
    fputs(rkey.public_key().pem().c_str(), f);
    fclose(f);
    rollout::server::ServerConfig cfg;
    cfg.database_url = "sqlite:" + (dir / "db").string();
    cfg.data_dir = (dir / "data").string();
    cfg.directive_key = (dir / "d.key").string();
    cfg.release_keys = {(dir / "r.pub").string()};
    cfg.enrollment_keys = {"k"};
    // Webhooks the fuzzer adds through the API are stored and listed, never delivered: no
    // request leaves the fuzzing process.
    cfg.webhook_delivery.enabled = false;
    cfg.waves_evaluate_interval = std::chrono::milliseconds(0);  // no timer: the input decides
    auto a = rollout::server::make_app_from(cfg, [] { return std::int64_t{1'795'000'000}; });
    if (!a) abort();
    return std::move(a.value());
  }();
  return instance.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string in(reinterpret_cast<const char*>(data), size);
  rollout::http::Request req;
  const auto nl = in.find('\n');
  const std::string first = in.substr(0, nl);
  const auto sp = first.find(' ');
  req.method = first.substr(0, sp);
  req.target = sp == std::string::npos ? "/" : first.substr(sp + 1);
  std::string rest = nl == std::string::npos ? "" : in.substr(nl + 1);
  const auto nl2 = rest.find('\n');
  const std::string header = rest.substr(0, nl2);
  if (const auto colon = header.find(": "); colon != std::string::npos && colon < 64) {
    req.headers.push_back({header.substr(0, colon), header.substr(colon + 2)});
    rest = nl2 == std::string::npos ? "" : rest.substr(nl2 + 1);
  }
  req.body = rest;
  std::optional<rollout::server::Identity> who;
  if (size % 2 == 0) who = rollout::server::Identity{"fuzzer", "admin"};
  // The header phase first, as the host runs it; a streamed upload's body goes to its sink.
  auto admitted = app()->admit(req, who);
  if (admitted.refusal) return 0;
  if (admitted.sink) {
    admitted.sink->write(req.body);
    req.sink = std::move(admitted.sink);
    req.body.clear();
  }
  (void)app()->handle(req, who);
  return 0;
}
