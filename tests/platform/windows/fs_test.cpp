// The Windows FileSystem: atomic replace (also while a reader holds the old file open), the
// composed operations' clean-up under injected faults, link refusal, owner-only DACLs.
#include "platform/fs.hpp"

#include <aclapi.h>
#include <gtest/gtest.h>
#include <sddl.h>
#include <windows.h>

#include "platform/fault_fs.hpp"
#include "platform/secret_file.hpp"
#include "platform/windows/win.hpp"
#include "tests/testing/testing.hpp"

namespace rollout::platform {
namespace {

FileSystem& fs() {
  return real_file_system();
}

// The DACL of `path` in SDDL ("D:P(A;;FA;;;SY)..."), "" when it cannot be read.
std::string dacl_sddl(const std::string& path) {
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (::GetNamedSecurityInfoW(win::wide(path).c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION,
                              nullptr, nullptr, nullptr, nullptr, &sd) != ERROR_SUCCESS) {
    return "";
  }
  wchar_t* text = nullptr;
  std::string out;
  if (::ConvertSecurityDescriptorToStringSecurityDescriptorW(
          sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &text, nullptr)) {
    out = win::narrow(text);
    ::LocalFree(text);
  }
  ::LocalFree(sd);
  return out;
}

std::string current_user_sid() {
  HANDLE token = nullptr;
  ::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token);
  alignas(TOKEN_USER) char buf[256];
  DWORD n = 0;
  std::string out;
  wchar_t* text = nullptr;
  if (::GetTokenInformation(token, TokenUser, buf, sizeof buf, &n) &&
      ::ConvertSidToStringSidW(reinterpret_cast<TOKEN_USER*>(buf)->User.Sid, &text)) {
    out = win::narrow(text);
    ::LocalFree(text);
  }
  ::CloseHandle(token);
  return out;
}

// Access for SYSTEM and Administrators only. Windows keeps the DACL exactly as set (protected:
// "D:P(...SY)(...BA)"); wine keeps no DACLs and maps them to Unix modes and back, where the
// owner stands for Administrators. Either way: nobody else (Everyone, Users, ...) has an entry.
void expect_owner_only(const std::string& path) {
  const auto sddl = dacl_sddl(path);
  ASSERT_EQ(sddl.rfind("D:", 0), 0U) << sddl;
  EXPECT_NE(sddl.find(";;;SY)"), std::string::npos) << sddl;
  const std::string me = current_user_sid();
  for (std::size_t open = sddl.find('('); open != std::string::npos;
       open = sddl.find('(', open + 1)) {
    const auto close = sddl.find(')', open);
    const auto entry = sddl.substr(open + 1, close - open - 1);
    const auto sid = entry.substr(entry.find_last_of(';') + 1);
    EXPECT_TRUE(sid == "SY" || sid == "BA" || sid == me)
        << "unexpected entry (" << entry << ") in " << sddl;
  }
}

// Wine keeps no DACLs: it maps them onto Unix mode bits, and a DACL applied to an existing
// object cannot take away bits the object already has (measured with wine 8.0: a directory
// given SYSTEM+Administrators only stays readable by Everyone). Creation-time DACLs of files do
// reach the mode bits.
bool under_wine() {
  return ::GetProcAddress(::GetModuleHandleW(L"ntdll.dll"), "wine_get_version") != nullptr;
}

TEST(WindowsFs, AtomicWriteReplacesContentAndLeavesNoTemporary) {
  testing::TempDir tmp;
  const auto path = (tmp / "current").string();
  ASSERT_TRUE(atomic_write_file(fs(), path, "1.0.0", 0644));
  ASSERT_TRUE(atomic_write_file(fs(), path, "1.1.0", 0644));
  EXPECT_EQ(testing::read_file(path), "1.1.0");
  auto names = fs().list_dir(tmp.path().string());
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, std::vector<std::string>{"current"});
}

TEST(WindowsFs, FailedRenameKeepsTheOldContentAndRemovesTheTemporary) {
  testing::TempDir tmp;
  const auto path = (tmp / "journal").string();
  ASSERT_TRUE(atomic_write_file(fs(), path, "old", 0644));
  FaultInjectingFileSystem faulty(fs());
  faulty.fail_nth(FsOp::rename, 1, "io_error");
  EXPECT_FALSE(atomic_write_file(faulty, path, "new", 0644));
  EXPECT_EQ(testing::read_file(path), "old");
  auto names = fs().list_dir(tmp.path().string());
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, std::vector<std::string>{"journal"});
}

TEST(WindowsFs, CreateNewRefusesAnExistingFile) {
  testing::TempDir tmp;
  const auto path = (tmp / "f").string();
  testing::write_file(path, "x");
  auto f = fs().create_new(path, 0644);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, "exists");
  EXPECT_EQ(testing::read_file(path), "x");
}

TEST(WindowsFs, WriteReadAppendSyncRoundTrip) {
  testing::TempDir tmp;
  const auto path = (tmp / "download.part").string();
  {
    auto f = fs().create_new(path, 0644);
    ASSERT_TRUE(f) << f.error().message;
    ASSERT_TRUE(fs().write(*f, "hello "));
    ASSERT_TRUE(fs().sync(*f));
    ASSERT_TRUE(fs().close(*f));
  }
  {
    auto f = fs().open_append(path);
    ASSERT_TRUE(f) << f.error().message;
    ASSERT_TRUE(fs().write(*f, "world"));
    ASSERT_TRUE(fs().close(*f));
  }
  auto all = read_whole_file(fs(), path, 1024);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, "hello world");
  auto info = fs().stat_no_follow(path);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->type, FileType::regular);
  EXPECT_EQ(info->size, 11U);
  EXPECT_EQ(read_whole_file(fs(), path, 5).error().code, "too_large");
}

TEST(WindowsFs, MissingPathsAreNotFoundAndRemovalIsIdempotent) {
  testing::TempDir tmp;
  const auto path = (tmp / "nothing").string();
  EXPECT_EQ(fs().open_read(path).error().code, "not_found");
  EXPECT_EQ(fs().stat_no_follow(path).error().code, "not_found");
  EXPECT_TRUE(fs().remove(path));
  EXPECT_TRUE(fs().remove_tree(path));
}

TEST(WindowsFs, RemoveTreeRemovesNestedDirectories) {
  testing::TempDir tmp;
  const auto root = (tmp / "versions").string();
  ASSERT_TRUE(fs().make_dir(root, 0755));
  ASSERT_TRUE(fs().make_dir(root + "\\1.0.0", 0755));
  testing::write_file(root + "\\1.0.0\\agent.exe", "binary");
  ::SetFileAttributesW(win::wide(root + "\\1.0.0\\agent.exe").c_str(), FILE_ATTRIBUTE_READONLY);
  auto st = fs().remove_tree(root);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(fs().stat_no_follow(root).error().code, "not_found");
}

TEST(WindowsFs, SecureDirGetsAnOwnerOnlyDacl) {
  testing::TempDir tmp;
  const auto dir = (tmp / "state").string();
  auto st = fs().make_secure_dir(dir);
  ASSERT_TRUE(st) << st.error().message;
  if (under_wine()) GTEST_SKIP() << "wine cannot narrow a directory's access (see under_wine)";
  expect_owner_only(dir);
  EXPECT_TRUE(fs().make_secure_dir(dir)) << "an existing secure directory is accepted";
}

TEST(WindowsFs, SecureDirRefusesADirectoryEveryoneMayWrite) {
  testing::TempDir tmp;
  const auto dir = (tmp / "open").string();
  ASSERT_TRUE(::CreateDirectoryW(win::wide(dir).c_str(), nullptr));
  PSECURITY_DESCRIPTOR sd = nullptr;
  ASSERT_TRUE(::ConvertStringSecurityDescriptorToSecurityDescriptorW(
      L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;WD)", SDDL_REVISION_1, &sd, nullptr));
  BOOL present = FALSE, defaulted = FALSE;
  PACL acl = nullptr;
  ASSERT_TRUE(::GetSecurityDescriptorDacl(sd, &present, &acl, &defaulted));
  std::wstring wdir = win::wide(dir);
  ASSERT_EQ(::SetNamedSecurityInfoW(wdir.data(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                                    nullptr, acl, nullptr),
            static_cast<DWORD>(ERROR_SUCCESS));
  ::LocalFree(sd);
  auto st = fs().make_secure_dir(dir);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "insecure");
  EXPECT_NE(st.error().message.find(dir), std::string::npos) << st.error().message;
}

TEST(WindowsFs, SecureDirRefusesAFile) {
  testing::TempDir tmp;
  const auto path = (tmp / "file").string();
  testing::write_file(path, "x");
  auto st = fs().make_secure_dir(path);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "insecure");
}

TEST(WindowsSecretFile, IsOwnerOnlyFromTheStartAndNeverOverwritten) {
  testing::TempDir tmp;
  const auto path = (tmp / "identity.key").string();
  ASSERT_TRUE(write_new_secret_file(path, "secret bytes"));
  EXPECT_EQ(testing::read_file(path), "secret bytes");
  expect_owner_only(path);
  auto again = write_new_secret_file(path, "other");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "exists");
  EXPECT_EQ(testing::read_file(path), "secret bytes");
}

TEST(WindowsFs, OwnerOnlyModeBecomesTheOwnerOnlyDacl) {
  testing::TempDir tmp;
  const auto path = (tmp / "identity.json").string();
  ASSERT_TRUE(atomic_write_file(fs(), path, "{}", 0600));
  expect_owner_only(path);
}

}  // namespace
}  // namespace rollout::platform
