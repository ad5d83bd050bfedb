// The C ABI shim: converts rollout_request/rollout_response to the transport-neutral values and
// back, and never lets a C++ exception cross the boundary.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "server-plugin/app.hpp"
#include "server-plugin/include/rollout_plugin.h"

#ifndef ROLLOUT_VERSION
#define ROLLOUT_VERSION "0.0.0"
#endif

struct rollout_plugin {
  std::unique_ptr<rollout::server::App> app;
};

struct rollout_body {
  std::shared_ptr<rollout::http::BodySource> source;
  std::uint64_t left = 0;
};

namespace {

char* dup_bytes(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) throw std::bad_alloc();
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

void fill(const rollout::http::Response& in, rollout_response* out) {
  *out = rollout_response{};
  out->status = static_cast<int>(in.status);
  out->header_count = in.headers.size();
  if (!in.headers.empty()) {
    out->headers =
        static_cast<rollout_header*>(std::calloc(in.headers.size(), sizeof(rollout_header)));
    if (out->headers == nullptr) throw std::bad_alloc();
    for (std::size_t i = 0; i < in.headers.size(); ++i) {
      out->headers[i].name = dup_bytes(in.headers[i].name);
      out->headers[i].value = dup_bytes(in.headers[i].value);
    }
  }
  out->body = dup_bytes(in.body);
  out->body_len = in.body.size();
  if (in.file) {
    out->file_path = dup_bytes(in.file->path);
    out->file_offset = in.file->offset;
    out->file_length = in.file->length;
  }
}

void fill_error(int status, const char* json, rollout_response* out) {
  *out = rollout_response{};
  out->status = status;
  const std::size_t n = std::strlen(json);
  out->body = static_cast<char*>(std::malloc(n + 1));
  if (out->body != nullptr) {
    std::memcpy(out->body, json, n + 1);
    out->body_len = n;
  }
}

constexpr const char* kInternal = R"({"error":"internal","message":"internal server error"})";

// A streamed body read whole into the response, for a host that uses rollout_plugin_handle().
void buffer_source(rollout::http::Response& r) {
  auto source = std::move(r.source);
  r.body.clear();
  while (r.body.size() < source->size()) {
    auto piece = source->read(std::min<std::uint64_t>(1 << 20, source->size() - r.body.size()));
    if (!piece || piece->empty()) {
      const std::string why = piece ? "the body ended early" : piece.error().message;
      r = rollout::http::error_response(500, "internal", "response body failed: " + why);
      return;
    }
    r.body += *piece;
  }
}

rollout::http::Request request_of(const rollout_request& in, bool with_body) {
  rollout::http::Request req;
  req.method = in.method ? in.method : "";
  req.target = in.target ? in.target : "";
  for (std::size_t i = 0; i < in.header_count && in.headers; ++i) {
    const auto& h = in.headers[i];
    if (h.name && h.value) req.headers.push_back({h.name, h.value});
  }
  if (with_body && in.body && in.body_len) req.body.assign(in.body, in.body_len);
  if (in.remote_addr) req.remote_addr = in.remote_addr;
  req.tls = in.tls != 0;
  return req;
}

std::optional<rollout::server::Identity> identity_of(const rollout_request& in) {
  if (in.user == nullptr) return std::nullopt;
  return rollout::server::Identity{in.user, in.role ? in.role : ""};
}

}  // namespace

extern "C" {

rollout_plugin* rollout_plugin_create(const char* config_path, char** error) {
  if (error) *error = nullptr;
  try {
    if (config_path == nullptr) {
      if (error) *error = dup_bytes("config path is NULL");
      return nullptr;
    }
    auto app = rollout::server::make_app(config_path);
    if (!app) {
      if (error) *error = dup_bytes(app.error().message);
      return nullptr;
    }
    return new rollout_plugin{std::move(app.value())};
  } catch (const std::exception& e) {
    if (error) *error = dup_bytes(std::string("plugin creation failed: ") + e.what());
  } catch (...) {
    if (error) *error = dup_bytes("plugin creation failed");
  }
  return nullptr;
}

int rollout_plugin_handle(rollout_plugin* plugin, const rollout_request* request,
                          rollout_response* response) {
  if (plugin == nullptr || request == nullptr || response == nullptr) return -1;
  // The caller's struct may hold anything (uninitialised stack memory): clear it before anything
  // can throw, so that the error path below frees only what fill() allocated.
  *response = rollout_response{};
  try {
    auto req = request_of(*request, true);
    auto res = plugin->app->handle(req, identity_of(*request));
    if (res.source && !res.file) buffer_source(res);
    fill(res, response);
  } catch (...) {
    rollout_response_free(response);
    fill_error(500, kInternal, response);
  }
  return 0;
}

int rollout_plugin_handle_streamed(rollout_plugin* plugin, const rollout_request* request,
                                   rollout_response* response, rollout_body** body) {
  if (plugin == nullptr || request == nullptr || response == nullptr || body == nullptr) return -1;
  *response = rollout_response{};
  *body = nullptr;
  try {
    auto req = request_of(*request, true);
    auto res = plugin->app->handle(req, identity_of(*request));
    std::unique_ptr<rollout_body> stream;
    if (res.source && !res.file) {
      stream = std::make_unique<rollout_body>();
      stream->left = res.source->size();
      stream->source = std::move(res.source);
    }
    fill(res, response);
    *body = stream.release();
  } catch (...) {
    rollout_response_free(response);
    fill_error(500, kInternal, response);
  }
  return 0;
}

uint64_t rollout_body_length(const rollout_body* body) {
  if (body == nullptr || !body->source) return 0;
  return body->source->size();
}

int64_t rollout_body_read(rollout_body* body, char* buf, size_t cap) {
  if (body == nullptr || buf == nullptr || !body->source) return -1;
  if (body->left == 0) return 0;
  if (cap == 0) return -1;
  try {
    const auto want = static_cast<std::size_t>(
        std::min<std::uint64_t>({body->left, cap, std::uint64_t{1} << 30}));
    auto piece = body->source->read(want);
    if (!piece || piece->empty() || piece->size() > want) {
      body->left = 0;
      body->source.reset();  // every later read fails too
      return -1;
    }
    std::memcpy(buf, piece->data(), piece->size());
    body->left -= piece->size();
    return static_cast<int64_t>(piece->size());
  } catch (...) {
    body->source.reset();
    return -1;
  }
}

void rollout_body_free(rollout_body* body) {
  delete body;
}

int rollout_plugin_admit(rollout_plugin* plugin, const rollout_request* head,
                         rollout_response* refusal, uint64_t* body_limit) {
  if (plugin == nullptr || head == nullptr || refusal == nullptr || body_limit == nullptr)
    return -1;
  *refusal = rollout_response{};
  *body_limit = 0;
  try {
    auto a = plugin->app->admit(request_of(*head, false), identity_of(*head));
    if (!a.refusal) {
      *body_limit = a.body_limit;
      return 0;
    }
    fill(*a.refusal, refusal);
  } catch (...) {
    rollout_response_free(refusal);
    fill_error(500, kInternal, refusal);
  }
  return 1;
}

void rollout_response_free(rollout_response* response) {
  if (response == nullptr) return;
  for (std::size_t i = 0; i < response->header_count && response->headers; ++i) {
    std::free(const_cast<char*>(response->headers[i].name));
    std::free(const_cast<char*>(response->headers[i].value));
  }
  std::free(response->headers);
  std::free(response->body);
  std::free(response->file_path);
  *response = rollout_response{};
}

void rollout_string_free(char* s) {
  std::free(s);
}

void rollout_plugin_destroy(rollout_plugin* plugin) {
  delete plugin;
}

const char* rollout_plugin_version(void) {
  return ROLLOUT_VERSION;
}
uint64_t rollout_plugin_body_limit(rollout_plugin* plugin, const char* method, const char* target) {
  if (plugin == nullptr || method == nullptr || target == nullptr) return 0;
  try {
    return plugin->app->body_limit(method, target);
  } catch (...) {
    return 0;
  }
}

int rollout_plugin_abi_version(void) {
  return ROLLOUT_PLUGIN_ABI_VERSION;
}

}  // extern "C"
