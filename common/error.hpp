// Errors are values across module borders. An Error carries a stable machine code (snake_case,
// also used as the "error" field of HTTP answers) and a human message that says what failed and,
// where it can, what to do. Expected<T> holds either a T or an Error. Value types; no thread
// safety beyond that of T.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace rollout {

struct Error {
  std::string code;
  std::string message;

  // Prefixes the message with context ("config /etc/x.yaml: " + message), keeping the code.
  Error& context(const std::string& prefix) {
    message = prefix + ": " + message;
    return *this;
  }
};

inline Error make_error(std::string code, std::string message) {
  return Error{std::move(code), std::move(message)};
}

template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Expected(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  // By value, not T&&: `for (auto& x : f().value())` then extends the result's lifetime instead
  // of binding a reference into a temporary Expected that dies before the loop body runs.
  T value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error& error() {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return err_;
  }
  Error& error() {
    assert(!ok_);
    return err_;
  }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Expected<void>;

}  // namespace rollout
