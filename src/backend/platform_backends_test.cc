#include "backend/platform_backends.h"

#include <new>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ptserve {
namespace {

using ::testing::HasSubstr;

class NamedBackend final : public Backend {
 public:
  explicit NamedBackend(std::function<void()> on_load = {}) : on_load_(std::move(on_load)) {}
  absl::StatusOr<std::shared_ptr<LoadedModel>> Load(const BackendLoadRequest& r) override {
    if (on_load_) on_load_();
    last_platform = r.platform;
    return absl::UnavailableError("loaded by this backend");
  }
  std::string last_platform;

 private:
  std::function<void()> on_load_;
};

TEST(PlatformBackendsTest, DispatchesByPlatform) {
  NamedBackend ts, aoti;
  PlatformBackends backends;
  backends.Register({"pytorch_libtorch", "torchscript"}, &ts);
  backends.Register({"torch_aoti"}, &aoti);
  BackendLoadRequest r;
  r.platform = "torch_aoti";
  EXPECT_EQ(backends.Load(r).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(aoti.last_platform, "torch_aoti");
  r.platform = "";  // the default platform
  backends.Load(r).IgnoreError();
  EXPECT_EQ(ts.last_platform, "");
  r.platform = "onnxruntime_onnx";
  auto s = backends.Load(r).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("it serves: pytorch_libtorch, torch_aoti, torchscript"));
}

TEST(PlatformBackendsTest, ExceptionsFromABackendBecomeAStatus) {
  NamedBackend oom([] { throw std::bad_alloc(); });
  NamedBackend threads([] { throw std::system_error(EAGAIN, std::generic_category(), "thread"); });
  NamedBackend other([] { throw std::runtime_error("boom"); });
  PlatformBackends backends;
  backends.Register({"a"}, &oom);
  backends.Register({"b"}, &threads);
  backends.Register({"c"}, &other);
  BackendLoadRequest r;
  r.model_name = "m";
  r.platform = "a";
  EXPECT_EQ(backends.Load(r).status().code(), absl::StatusCode::kResourceExhausted);
  r.platform = "b";
  EXPECT_EQ(backends.Load(r).status().code(), absl::StatusCode::kResourceExhausted);
  r.platform = "c";
  EXPECT_THAT(backends.Load(r).status().message(), HasSubstr("boom"));
}

}  // namespace
}  // namespace ptserve
