// ModelVersion's lifetime: a version dropped by the repository while its
// last request finishes is destroyed by that request's callback, on the
// version's own worker thread.
#include "repository/model_version.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "gtest/gtest.h"

namespace ptserve {
namespace {

using namespace std::chrono_literals;

class EchoInstance : public ModelInstance {
 public:
  EchoInstance(std::atomic<bool>* destroyed, std::shared_future<void> go)
      : destroyed_(destroyed), go_(std::move(go)) {}
  ~EchoInstance() override { destroyed_->store(true); }
  absl::StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    go_.wait();
    return inputs;
  }

 private:
  std::atomic<bool>* destroyed_;
  std::shared_future<void> go_;
};

class EchoModel : public LoadedModel {
 public:
  EchoModel() {
    inputs_.push_back({.name = "x", .dtype = DataType::kFp32, .dims = {2}});
    outputs_.push_back({.name = "y", .dtype = DataType::kFp32, .dims = {2}});
  }
  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  const std::vector<std::string>& notes() const override { return notes_; }
  absl::StatusOr<std::unique_ptr<ModelInstance>> CreateInstance(const InstanceOptions&) override {
    return absl::UnimplementedError("not used");
  }

 private:
  std::vector<TensorSpec> inputs_, outputs_;
  std::vector<std::string> notes_;
};

// `go`: executions wait for it.
std::shared_ptr<ModelVersion> MakeVersion(metrics::InferenceMetrics& registry,
                                          std::atomic<bool>* destroyed,
                                          std::shared_future<void> go) {
  SchedulerOptions options;
  options.name = "echo";
  options.max_batch_size = 4;
  std::vector<std::unique_ptr<ModelInstance>> instances;
  instances.push_back(std::make_unique<EchoInstance>(destroyed, std::move(go)));
  auto scheduler = Scheduler::Create(std::move(options), std::move(instances)).value();
  config::ModelConfig config;
  config.set_name("echo");
  config.set_max_batch_size(4);
  return ModelVersion::Create("echo", 1, config, std::make_shared<EchoModel>(),
                              std::move(scheduler), registry.ForModel("echo", "1"), registry);
}

InferenceRequest OneRow() {
  InferenceRequest request;
  Tensor x = Tensor::Allocate(DataType::kFp32, {1, 2}).value();
  request.inputs.push_back({"x", std::move(x)});
  return request;
}

bool WaitFor(const std::atomic<bool>& flag) {
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(1ms)) {
    if (flag.load()) return true;
  }
  return false;
}

TEST(ModelVersionTest, DestroyedWhenTheLastRequestLetsGoOnItsWorkerThread) {
  metrics::InferenceMetrics registry(metrics::InferenceMetrics::Options{.enabled = false});
  for (int round = 0; round < 20; ++round) {
    std::atomic<bool> destroyed{false};
    std::promise<void> go;
    std::shared_ptr<ModelVersion> version =
        MakeVersion(registry, &destroyed, go.get_future().share());
    std::weak_ptr<ModelVersion> weak = version;
    std::promise<void> answered;
    // As the server does: the caller holds the version while it queues the
    // request, then lets go (the repository unloaded it) while the request
    // runs. The request's callback then holds the last reference, which the
    // worker thread drops when it discards the callback: this deadlocked
    // when the version drained its scheduler there.
    ASSERT_TRUE(version->Infer(OneRow(), [&answered](absl::StatusOr<InferenceResponse> r) {
                       EXPECT_TRUE(r.ok()) << r.status();
                       answered.set_value();
                     }).ok());
    version.reset();
    EXPECT_FALSE(weak.expired());
    go.set_value();
    answered.get_future().wait();
    ASSERT_TRUE(WaitFor(destroyed)) << "round " << round << ": version never destroyed";
    EXPECT_TRUE(weak.expired());
  }
  ModelVersion::WaitForDeferredDestruction();
}

TEST(ModelVersionTest, DestroyedAtOnceByTheLastHolderOffItsThreads) {
  metrics::InferenceMetrics registry(metrics::InferenceMetrics::Options{.enabled = false});
  std::atomic<bool> destroyed{false};
  std::promise<void> go;
  go.set_value();
  std::shared_ptr<ModelVersion> version = MakeVersion(registry, &destroyed, go.get_future().share());
  std::promise<void> answered;
  ASSERT_TRUE(version->Infer(OneRow(), [&answered](absl::StatusOr<InferenceResponse> r) {
                       EXPECT_TRUE(r.ok()) << r.status();
                       answered.set_value();
                     }).ok());
  answered.get_future().wait();
  // The worker discards the finished request (and the reference its
  // callback held) just after answering; in_flight drops to 0 after that.
  while (version->scheduler().Stats().in_flight != 0) std::this_thread::sleep_for(1ms);
  version.reset();  // the last reference: drains and joins the scheduler here
  EXPECT_TRUE(destroyed.load());
  ModelVersion::WaitForDeferredDestruction();
}

}  // namespace
}  // namespace ptserve
