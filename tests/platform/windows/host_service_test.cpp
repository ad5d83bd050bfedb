// Host facts from the registry, and the SCM notifier's state machine without an SCM (a console
// run: every report is a no-op, the state is still tracked for the service host).
#include <gtest/gtest.h>
#include <windows.h>

#include "platform/host.hpp"
#include "platform/service.hpp"
#include "platform/windows/service_status.hpp"

namespace rollout::platform {
namespace {

TEST(WindowsHost, MachineIdIsTheRegistryGuidInHex) {
  auto id = machine_id();
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(id->size(), 32U) << *id;
  EXPECT_EQ(id->find_first_not_of("0123456789abcdef"), std::string::npos) << *id;
  EXPECT_EQ(*machine_id(), *id) << "stable across calls";
}

TEST(WindowsHost, HostNameIsKnown) {
  EXPECT_FALSE(host_name().empty());
  EXPECT_NE(host_name(), "unknown");
}

TEST(WindowsService, NotifierTracksStatesAndCheckpoints) {
  auto& n = system_service_notifier();
  EXPECT_EQ(n.watchdog_interval(), std::nullopt) << "the SCM has no watchdog";
  EXPECT_EQ(win::reported_service_state(), static_cast<DWORD>(SERVICE_START_PENDING));
  n.notify_watchdog();
  n.notify_watchdog();
  EXPECT_EQ(win::reported_checkpoint(), 2U) << "keep-alives while starting are checkpoints";
  n.notify_ready();
  EXPECT_EQ(win::reported_service_state(), static_cast<DWORD>(SERVICE_RUNNING));
  n.notify_watchdog();
  EXPECT_EQ(win::reported_checkpoint(), 0U) << "no checkpoints once running";
  n.notify_stopping();
  EXPECT_EQ(win::reported_service_state(), static_cast<DWORD>(SERVICE_STOP_PENDING));
  n.notify_watchdog();
  EXPECT_EQ(win::reported_checkpoint(), 1U);
}

}  // namespace
}  // namespace rollout::platform
