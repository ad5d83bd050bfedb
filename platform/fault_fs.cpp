// Fault injection for tests; portable (no OS headers).
#include "platform/fault_fs.hpp"

#include <optional>

namespace rollout::platform {

namespace {
std::size_t idx(FsOp op) {
  return static_cast<std::size_t>(op);
}
}  // namespace

void FaultInjectingFileSystem::fail_nth(FsOp op, int n, std::string code, bool sticky) {
  std::lock_guard lock(mu_);
  plans_[idx(op)] = Plan{counts_[idx(op)] + n, sticky, std::move(code)};
}

void FaultInjectingFileSystem::clear() {
  std::lock_guard lock(mu_);
  plans_ = {};
}

int FaultInjectingFileSystem::count(FsOp op) const {
  std::lock_guard lock(mu_);
  return counts_[idx(op)];
}

std::optional<Error> FaultInjectingFileSystem::check(FsOp op, const std::string& what) {
  std::lock_guard lock(mu_);
  const int n = ++counts_[idx(op)];
  const Plan& plan = plans_[idx(op)];
  if (plan.fail_at == 0) return std::nullopt;
  if (n == plan.fail_at || (plan.sticky && n > plan.fail_at)) {
    return make_error(plan.code, what + ": injected " + plan.code);
  }
  return std::nullopt;
}

Expected<File> FaultInjectingFileSystem::create_new(const std::string& p, unsigned m) {
  if (auto e = check(FsOp::create_new, "cannot create " + p)) return *e;
  return FileSystemWrapper::create_new(p, m);
}
Expected<File> FaultInjectingFileSystem::open_read(const std::string& p) {
  if (auto e = check(FsOp::open, "cannot open " + p)) return *e;
  return FileSystemWrapper::open_read(p);
}
Expected<File> FaultInjectingFileSystem::open_append(const std::string& p) {
  if (auto e = check(FsOp::open, "cannot open " + p)) return *e;
  return FileSystemWrapper::open_append(p);
}
Status FaultInjectingFileSystem::write(File& f, std::string_view b) {
  if (auto e = check(FsOp::write, "cannot write " + f.path())) {
    (void)FileSystemWrapper::write(f, b.substr(0, b.size() / 2));
    return *e;
  }
  return FileSystemWrapper::write(f, b);
}
Expected<std::string> FaultInjectingFileSystem::read(File& f, std::size_t max) {
  if (auto e = check(FsOp::read, "cannot read " + f.path())) return *e;
  return FileSystemWrapper::read(f, max);
}
Status FaultInjectingFileSystem::sync(File& f) {
  if (auto e = check(FsOp::sync, "cannot fsync " + f.path())) return *e;
  return FileSystemWrapper::sync(f);
}
Status FaultInjectingFileSystem::close(File& f) {
  if (auto e = check(FsOp::close, "cannot close " + f.path())) {
    (void)FileSystemWrapper::close(f);  // a failed close still releases the handle
    return *e;
  }
  return FileSystemWrapper::close(f);
}
Status FaultInjectingFileSystem::set_mode(File& f, unsigned m) {
  if (auto e = check(FsOp::set_mode, "cannot chmod " + f.path())) return *e;
  return FileSystemWrapper::set_mode(f, m);
}
Status FaultInjectingFileSystem::rename(const std::string& a, const std::string& b) {
  if (auto e = check(FsOp::rename, "cannot rename " + a + " to " + b)) return *e;
  return FileSystemWrapper::rename(a, b);
}
Status FaultInjectingFileSystem::remove(const std::string& p) {
  if (auto e = check(FsOp::remove, "cannot remove " + p)) return *e;
  return FileSystemWrapper::remove(p);
}
Status FaultInjectingFileSystem::remove_tree(const std::string& p) {
  if (auto e = check(FsOp::remove_tree, "cannot remove " + p)) return *e;
  return FileSystemWrapper::remove_tree(p);
}
Status FaultInjectingFileSystem::make_dir(const std::string& p, unsigned m) {
  if (auto e = check(FsOp::make_dir, "cannot create directory " + p)) return *e;
  return FileSystemWrapper::make_dir(p, m);
}
Status FaultInjectingFileSystem::fsync_dir(const std::string& p) {
  if (auto e = check(FsOp::fsync_dir, "cannot fsync directory " + p)) return *e;
  return FileSystemWrapper::fsync_dir(p);
}
Status FaultInjectingFileSystem::symlink(const std::string& t, const std::string& l) {
  if (auto e = check(FsOp::symlink, "cannot create symlink " + l)) return *e;
  return FileSystemWrapper::symlink(t, l);
}

}  // namespace rollout::platform
