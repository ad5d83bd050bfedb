// The route handlers, grouped by file: agent_api.cpp (the endpoint-facing API),
// rollouts_api.cpp (the Updates table and its actions), admin_api.cpp (login, agents, policies,
// logs, users, tokens, metrics), pages.cpp (the HTML pages and their assets).
#pragma once

#include "server-plugin/app/state.hpp"

namespace rollout::server::handlers {

http::Response enroll(AppState& s, Ctx& c);
http::Response checkin(AppState& s, Ctx& c);
// A held check-in decided again after a change (HeldCheckins::Decide): its answer when it now
// gets a directive, else nullopt (it stays held).
Expected<std::optional<http::Response>> decide_held_checkin(AppState& s, Tx& tx,
                                                            const HeldCheckins::Entry& e);
http::Response reports(AppState& s, Ctx& c);
http::Response artifact(AppState& s, Ctx& c);

http::Response list_rollouts(AppState& s, Ctx& c);
http::Response publish(AppState& s, Ctx& c);
// publish's header phase (after authentication): a streamed upload (the manifest in
// X-Rollout-Manifest, the raw artifact as the body) is verified and its Content-Length checked
// against the signed size before any byte is read, and gets a sink that streams it to disk.
void admit_publish(AppState& s, const Ctx& c, http::Admission& a);
http::Response promote(AppState& s, Ctx& c);
http::Response rollback(AppState& s, Ctx& c);
http::Response rollout_detail(AppState& s, Ctx& c);
// POST /api/updates/rollouts/{version}/waves/{pause|resume|advance|all|abort}, body
// {os, arch, reason} (reason required for all and abort): wave_rollouts::manual.
http::Response waves_pause(AppState& s, Ctx& c);
http::Response waves_resume(AppState& s, Ctx& c);
http::Response waves_advance(AppState& s, Ctx& c);
http::Response waves_all(AppState& s, Ctx& c);
http::Response waves_abort(AppState& s, Ctx& c);
http::Response list_events(AppState& s, Ctx& c);

http::Response login(AppState& s, Ctx& c);
http::Response logout(AppState& s, Ctx& c);
http::Response me(AppState& s, Ctx& c);
http::Response list_agents(AppState& s, Ctx& c);
http::Response get_agent(AppState& s, Ctx& c);
http::Response get_policies(AppState& s, Ctx& c);
http::Response put_policy(AppState& s, Ctx& c);
http::Response query_logs(AppState& s, Ctx& c);
http::Response add_user(AppState& s, Ctx& c);
http::Response create_token(AppState& s, Ctx& c);
http::Response metrics(AppState& s, Ctx& c);
http::Response healthz(AppState& s, Ctx& c);

// webhooks_api.cpp (admin only): the webhooks, never their secrets, and each one's delivery log.
http::Response list_webhooks(AppState& s, Ctx& c);
http::Response add_webhook(AppState& s, Ctx& c);
http::Response delete_webhook(AppState& s, Ctx& c);
http::Response webhook_deliveries(AppState& s, Ctx& c);

// pages.cpp: the pages and their assets, embedded at build time.
http::Response page_root(AppState& s, Ctx& c);
http::Response page_updates(AppState& s, Ctx& c);
http::Response page_agent(AppState& s, Ctx& c);
http::Response page_policies(AppState& s, Ctx& c);
http::Response page_logs(AppState& s, Ctx& c);
http::Response page_login(AppState& s, Ctx& c);
http::Response page_asset(AppState& s, Ctx& c);

// The session token from the "rollout_session" cookie, or empty.
std::string session_cookie(const http::Request& req);

}  // namespace rollout::server::handlers
