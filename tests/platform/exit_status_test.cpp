// ExitStatus: one neutral "how did it end" for both OSes, and the text crash evidence carries.
// Portable: also runs under wine.
#include <gtest/gtest.h>

#include "platform/process.hpp"

namespace rollout::platform {
namespace {

TEST(ExitStatus, AnExitCodeIsDescribedAndReportedAsItself) {
  const auto s = ExitStatus::exited(3);
  EXPECT_EQ(s.how, ExitStatus::How::exited);
  EXPECT_FALSE(s.success());
  EXPECT_FALSE(s.signaled());
  EXPECT_EQ(s.describe(), "exit code 3");
  EXPECT_EQ(s.report_exit_code(), 3);
  EXPECT_TRUE(ExitStatus::exited(0).success());
}

TEST(ExitStatus, ASignalHasNoExitCode) {
  const auto s = ExitStatus::killed_by(6);
  EXPECT_TRUE(s.signaled());
  EXPECT_FALSE(s.success());
  EXPECT_EQ(s.describe().rfind("signal 6", 0), 0u) << s.describe();
  EXPECT_FALSE(s.report_exit_code().has_value());
}

TEST(ExitStatus, AWindowsExceptionIsNamedAndReportedAsWindowsShowsIt) {
  const auto s = ExitStatus::from_windows_exit_code(0xC0000005U);
  EXPECT_EQ(s.how, ExitStatus::How::exception);
  EXPECT_EQ(s.exception, 0xC0000005U);
  EXPECT_FALSE(s.success());
  EXPECT_EQ(s.describe(), "exception 0xC0000005 (access violation)");
  EXPECT_EQ(s.report_exit_code(), -1073741819);  // %ERRORLEVEL% after an access violation
  EXPECT_EQ(ExitStatus::from_windows_exit_code(0xC0000409U).describe(),
            "exception 0xC0000409 (fail-fast: stack buffer overrun or abort)");
  EXPECT_EQ(ExitStatus::from_windows_exit_code(0xC0001234U).describe(), "exception 0xC0001234");
  EXPECT_EQ(ExitStatus::from_windows_exit_code(0x80000003U).describe(),
            "exception 0x80000003 (breakpoint)");
}

TEST(ExitStatus, AnOrdinaryWindowsExitCodeIsAnExitCode) {
  EXPECT_EQ(ExitStatus::from_windows_exit_code(0), ExitStatus::exited(0));
  EXPECT_EQ(ExitStatus::from_windows_exit_code(3), ExitStatus::exited(3));
  // Large codes a program may choose (not NTSTATUS errors) stay exit codes.
  EXPECT_EQ(ExitStatus::from_windows_exit_code(0x40000000U).how, ExitStatus::How::exited);
}

}  // namespace
}  // namespace rollout::platform
