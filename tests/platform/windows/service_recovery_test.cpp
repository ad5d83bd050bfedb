// Recovery actions on a real, registered service (platform/service_recovery.hpp): set, reported
// back as taken, read back where the service manager can. Under wine the read-back is not there
// (services.exe knows neither the non-crash flag nor the query: ERROR_INVALID_LEVEL), so that part
// is asserted only when the query answers; what is always asserted is that setting them on a
// registered service succeeds, keeps the restart actions, and fails naming a missing service.
#include <gtest/gtest.h>
#include <windows.h>

#include <string>

#include "platform/service_recovery.hpp"

namespace rollout::platform {
namespace {

using std::chrono::seconds;

// A stopped service that is never started: registered for the test, deleted after it.
class RegisteredService {
 public:
  explicit RegisteredService(const std::wstring& name) {
    scm_ = ::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CREATE_SERVICE);
    if (scm_ == nullptr) return;
    svc_ = ::CreateServiceW(scm_, name.c_str(), name.c_str(), SERVICE_ALL_ACCESS,
                            SERVICE_WIN32_OWN_PROCESS, SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL,
                            L"C:\\windows\\system32\\notepad.exe", nullptr, nullptr, nullptr,
                            nullptr, nullptr);
  }
  ~RegisteredService() {
    if (svc_ != nullptr) {
      ::DeleteService(svc_);
      ::CloseServiceHandle(svc_);
    }
    if (scm_ != nullptr) ::CloseServiceHandle(scm_);
  }
  bool ok() const { return svc_ != nullptr; }

 private:
  SC_HANDLE scm_ = nullptr;
  SC_HANDLE svc_ = nullptr;
};

TEST(WindowsServiceRecovery, SetOnARegisteredServiceAndReadBackWhereTheScmCan) {
  const std::string name = "rollout-recovery-test-" + std::to_string(::GetCurrentProcessId());
  RegisteredService svc(std::wstring(name.begin(), name.end()));
  ASSERT_TRUE(svc.ok()) << "CreateServiceW: error " << ::GetLastError();
  const ServiceRecovery policy{{seconds(10), seconds(30), seconds(60)}, seconds(86400), true};
  auto taken = set_service_recovery(name, policy);
  ASSERT_TRUE(taken) << taken.error().message;
  EXPECT_EQ(taken->restart_delays, policy.restart_delays);
  EXPECT_EQ(taken->reset_after, policy.reset_after);
  auto back = query_service_recovery(name);
  if (back) {
    EXPECT_EQ(*back, *taken);
  } else {
    EXPECT_NE(back.error().message.find("(error 124)"), std::string::npos)
        << "only an SCM without the query (wine) may refuse it: " << back.error().message;
  }
}

TEST(WindowsServiceRecovery, AMissingServiceIsAnErrorNamingIt) {
  auto r = set_service_recovery("rollout-no-such-service", {{seconds(1)}, seconds(1), false});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("rollout-no-such-service"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace rollout::platform
