#include "tools/rolloutctl/api.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace rollout::ctl {

namespace bj = boost::json;

const char* const kServerFlagsHelp =
    "server options (flags override the environment):\n"
    "  --server URL         ROLLOUT_SERVER, e.g. https://rollout.example:8443\n"
    "  --token T            ROLLOUT_TOKEN, an API token from 'rolloutctl token create'\n"
    "  --user U             log in as U; the password is ROLLOUT_PASSWORD or --password-file\n"
    "  --password-file F    first line of F is the password\n"
    "  --ca-file F          ROLLOUT_CA_FILE, trust this CA/certificate for the server\n"
    "  --allow-http         permit a plain http:// server URL (tests on loopback only)\n";

FlagSpec with_server_flags(FlagSpec spec) {
  for (const char* v : {"server", "token", "user", "password-file", "ca-file"}) {
    spec.values.insert(v);
  }
  spec.switches.insert("allow-http");
  spec.switches.insert("help");
  return spec;
}

namespace {

std::string env_or(const Args& args, const char* flag, const char* env) {
  if (auto v = args.get(flag)) return *v;
  const char* e = std::getenv(env);
  return e ? std::string(e) : std::string();
}

std::string first_line(const std::string& path, bool& ok) {
  std::ifstream f(path);
  std::string line;
  ok = static_cast<bool>(std::getline(f, line));
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  return line;
}

std::string cookie_pair(const std::vector<std::string>& set_cookies, const std::string& name) {
  for (const auto& c : set_cookies) {
    if (c.rfind(name + "=", 0) == 0) return c.substr(0, c.find(';'));
  }
  return {};
}

}  // namespace

Expected<ApiClient> ApiClient::from_args(const Args& args) {
  ApiClient c;
  c.server_ = env_or(args, "server", "ROLLOUT_SERVER");
  if (c.server_.empty()) return make_error("usage", "missing --server (or ROLLOUT_SERVER)");
  while (!c.server_.empty() && c.server_.back() == '/') c.server_.pop_back();
  net::TransportOptions o;
  o.allow_plain_http = args.has("allow-http");
  o.ca_file = env_or(args, "ca-file", "ROLLOUT_CA_FILE");
  o.user_agent = "rolloutctl";
  o.max_json_response = 64 * 1024 * 1024;
  o.request_timeout = std::chrono::seconds(300);  // publishing uploads the artifact
  if (auto st = net::check_url_allowed(c.server_, o); !st)
    return make_error("usage", st.error().message);
  c.user_ = args.get("user").value_or("");
  c.token_ = c.user_.empty() ? env_or(args, "token", "ROLLOUT_TOKEN") : std::string();
  if (!c.user_.empty()) {
    if (auto file = args.get("password-file")) {
      bool ok = false;
      c.password_ = first_line(*file, ok);
      if (!ok) return make_error("usage", "cannot read a password from " + *file);
    } else if (const char* pw = std::getenv("ROLLOUT_PASSWORD")) {
      c.password_ = pw;
    } else {
      return make_error("usage", "--user needs ROLLOUT_PASSWORD or --password-file");
    }
  } else if (c.token_.empty()) {
    return make_error("usage", "no credentials: give --token (ROLLOUT_TOKEN) or --user");
  }
  c.transport_ = net::make_curl_transport(std::move(o));
  return c;
}

Status ApiClient::login() {
  net::Request r;
  r.method = "POST";
  r.url = server_ + "/api/auth/login";
  r.body = bj::serialize(bj::object{{"username", user_}, {"password", password_}});
  auto answer = transport_->send(r);
  if (!answer) return answer.error();
  if (answer->status != 200) {
    std::string msg =
        "login as " + user_ + " refused (HTTP " + std::to_string(answer->status) + ")";
    bj::error_code ec;
    auto v = bj::parse(answer->body, ec);
    if (!ec && v.is_object() && v.as_object().contains("message") && v.at("message").is_string()) {
      msg += ": " + std::string(v.at("message").as_string());
    }
    return make_error("refused", msg);
  }
  cookie_ = cookie_pair(answer->set_cookies, "rollout_session");
  bj::error_code ec;
  auto v = bj::parse(answer->body, ec);
  if (ec || cookie_.empty() || !v.is_object() || !v.as_object().contains("csrf_token") ||
      !v.at("csrf_token").is_string()) {
    return make_error("protocol", "the server's login answer carried no session");
  }
  csrf_ = std::string(v.at("csrf_token").as_string());
  return {};
}

Expected<ApiAnswer> ApiClient::call(
    const std::string& method, const std::string& path, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  if (!user_.empty() && cookie_.empty()) {
    if (auto st = login(); !st) return st.error();
  }
  net::Request r;
  r.method = method;
  r.url = server_ + path;
  r.body = body.empty() && method != "GET" ? std::string("{}") : body;
  r.bearer_token = token_;
  if (!cookie_.empty()) {
    r.headers.emplace_back("Cookie", cookie_);
    r.headers.emplace_back("X-CSRF-Token", csrf_);
  }
  for (const auto& h : headers) r.headers.push_back(h);
  auto answer = transport_->send(r);
  if (!answer) return answer.error();
  ApiAnswer out;
  out.status = answer->status;
  bj::error_code ec;
  out.body = bj::parse(answer->body, ec);
  if (ec) out.body = nullptr;
  return out;
}

int report_refusal(const ApiAnswer& answer) {
  std::string code, message;
  if (answer.body.is_object()) {
    const auto& o = answer.body.as_object();
    if (auto* e = o.if_contains("error"); e && e->is_string()) code = std::string(e->as_string());
    if (auto* m = o.if_contains("message"); m && m->is_string()) {
      message = std::string(m->as_string());
    }
  }
  std::string line = "HTTP " + std::to_string(answer.status);
  if (!code.empty()) line += " " + code;
  if (!message.empty()) line += ": " + message;
  const int exit = answer.status == 400 || answer.status == 413 ? kUsage : kVerifyFailed;
  return fail(exit, line);
}

int report_error(const Error& error) {
  return fail(error.code == "usage" ? kUsage : kVerifyFailed, error.message);
}

std::string path_segment(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto ch = static_cast<unsigned char>(c);
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

}  // namespace rollout::ctl
