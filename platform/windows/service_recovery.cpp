// Service recovery actions through the SCM (see service_recovery.hpp). A restart action needs
// SERVICE_START on the handle that sets it, besides SERVICE_CHANGE_CONFIG.
#include <windows.h>

#include <memory>
#include <vector>

#include "platform/service_recovery.hpp"
#include "platform/windows/win.hpp"

namespace rollout::platform {

namespace {

struct ScCloser {
  void operator()(SC_HANDLE h) const { ::CloseServiceHandle(h); }
};
using ScHandle = std::unique_ptr<std::remove_pointer_t<SC_HANDLE>, ScCloser>;

Expected<ScHandle> open_service(const std::string& name, DWORD access) {
  ScHandle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) return win::last_error("cannot open the service manager");
  ScHandle svc(::OpenServiceW(scm.get(), win::wide(name).c_str(), access));
  if (!svc) return win::last_error("cannot open service " + name);
  return svc;
}

}  // namespace

Expected<ServiceRecovery> set_service_recovery(const std::string& name, const ServiceRecovery& r) {
  auto svc = open_service(name, SERVICE_CHANGE_CONFIG | SERVICE_START);
  if (!svc) return svc.error();
  std::vector<SC_ACTION> actions;
  for (const auto d : r.restart_delays) {
    actions.push_back({SC_ACTION_RESTART, static_cast<DWORD>(d.count() * 1000)});
  }
  SERVICE_FAILURE_ACTIONSW fa{};
  fa.dwResetPeriod = static_cast<DWORD>(r.reset_after.count());
  fa.cActions = static_cast<DWORD>(actions.size());
  fa.lpsaActions = actions.empty() ? nullptr : actions.data();
  if (!::ChangeServiceConfig2W(svc->get(), SERVICE_CONFIG_FAILURE_ACTIONS, &fa)) {
    return win::last_error("cannot set the recovery actions of service " + name);
  }
  ServiceRecovery taken = r;
  SERVICE_FAILURE_ACTIONS_FLAG flag{r.on_error_exit ? TRUE : FALSE};
  if (!::ChangeServiceConfig2W(svc->get(), SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag)) {
    if (::GetLastError() != ERROR_INVALID_LEVEL) {
      return win::last_error("cannot set the failure actions flag of service " + name);
    }
    taken.on_error_exit = false;  // a service manager without the setting (wine)
  }
  return taken;
}

Expected<ServiceRecovery> query_service_recovery(const std::string& name) {
  auto svc = open_service(name, SERVICE_QUERY_CONFIG);
  if (!svc) return svc.error();
  // Two calls: the size, then the data (the SCM packs the actions after the struct).
  auto query = [&](DWORD level, std::vector<unsigned char>& buf) -> Status {
    DWORD need = 0;
    ::QueryServiceConfig2W(svc->get(), level, nullptr, 0, &need);
    buf.assign(need < sizeof(SERVICE_FAILURE_ACTIONSW) ? sizeof(SERVICE_FAILURE_ACTIONSW) : need,
               0);
    if (!::QueryServiceConfig2W(svc->get(), level, buf.data(), static_cast<DWORD>(buf.size()),
                                &need)) {
      return win::last_error("cannot read the recovery actions of service " + name);
    }
    return {};
  };
  std::vector<unsigned char> buf;
  if (auto st = query(SERVICE_CONFIG_FAILURE_ACTIONS, buf); !st) return st.error();
  const auto* fa = reinterpret_cast<const SERVICE_FAILURE_ACTIONSW*>(buf.data());
  ServiceRecovery r;
  r.reset_after = std::chrono::seconds(fa->dwResetPeriod);
  for (DWORD i = 0; i < fa->cActions && fa->lpsaActions != nullptr; ++i) {
    const SC_ACTION& a = fa->lpsaActions[i];
    if (a.Type != SC_ACTION_RESTART) {
      return make_error("io_error", "service " + name + ": recovery action " +
                                        std::to_string(i + 1) + " is of type " +
                                        std::to_string(static_cast<int>(a.Type)) +
                                        ", not a restart");
    }
    r.restart_delays.emplace_back(a.Delay / 1000);
  }
  std::vector<unsigned char> flag;
  if (auto st = query(SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, flag); !st) return st.error();
  r.on_error_exit = reinterpret_cast<const SERVICE_FAILURE_ACTIONS_FLAG*>(flag.data())
                        ->fFailureActionsOnNonCrashFailures != FALSE;
  return r;
}

}  // namespace rollout::platform
