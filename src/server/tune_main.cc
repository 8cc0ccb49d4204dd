// ptserve-tune: self-tuning offline. Loads one model of a repository the way
// the server does (the same backends, acceleration and warm-up), measures it
// with AUTOTUNE (scheduler/autotune.h) and prints the table and the setting
// chosen; --write saves that setting into the model's config.pbtxt (the old
// file kept as config.pbtxt.bak), so that the server serves it without tuning
// at every load.
//
//   ptserve-tune --model-repository models --model resnet18 --budget-ms 10000 --write
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "backend/blas_threads.h"
#include "backend/operator_libraries.h"
#include "backend/pytorch_backends.h"
#include "backend/torchscript_backend.h"
#include "core/cpu_quota.h"
#include "google/protobuf/text_format.h"
#include "repository/load_plan.h"
#include "repository/model_repository.h"
#include "server/logging.h"
#include "spdlog/spdlog.h"

namespace ptserve {
namespace {
namespace fs = std::filesystem;

struct TuneFlags {
  std::string model_repository;
  std::string model;
  int budget_ms = 3000;
  int64_t p99_us = 0;
  int cpus = 0;
  bool write = false;
};

// The config to save: the tuned one, without the keys that asked for tuning
// (it would tune again at every load).
std::string TunedConfigText(config::ModelConfig config) {
  config.mutable_parameters()->erase("AUTOTUNE");
  config.mutable_parameters()->erase("AUTOTUNE_P99_US");
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.PrintToString(config, &text);
  return text;
}

// Replaces `path` with `text` atomically, keeping the old file as .bak.
absl::Status WriteConfig(const fs::path& path, const std::string& text) {
  std::error_code ec;
  const fs::path tmp = fs::path(path).concat(".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << "# Written by ptserve-tune: the setting AUTOTUNE measured as the best on this "
           "machine.\n"
        << text;
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp.string()));
  }
  if (fs::exists(path)) {
    fs::copy_file(path, fs::path(path).concat(".bak"), fs::copy_options::overwrite_existing, ec);
    if (ec)
      return absl::InternalError(
          absl::StrCat("cannot back up ", path.string(), ": ", ec.message()));
  }
  fs::rename(tmp, path, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot replace ", path.string(), ": ", ec.message()));
  return absl::OkStatus();
}

int Run(int argc, char** argv) {
  CLI::App app{
      "ptserve-tune: measure a model over instances x intra-op threads x batch sizes "
      "and choose the setting with the most throughput (the AUTOTUNE parameter, "
      "offline)"};
  TuneFlags f;
  app.add_option("--model-repository", f.model_repository, "The model repository")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--model", f.model, "The model (a directory of the repository)")->required();
  app.add_option("--budget-ms", f.budget_ms, "Measuring time aimed at")
      ->capture_default_str()
      ->check(CLI::Range(10, 600000));
  app.add_option("--p99-us", f.p99_us,
                 "Latency target (AUTOTUNE_P99_US): twice a setting's p99 execution time must "
                 "fit; 0 = the config's, or none")
      ->check(CLI::Range(int64_t{0}, int64_t{3600} * 1000 * 1000));
  app.add_option("--cpus", f.cpus, "CPUs to plan for (default: those this process may use)")
      ->check(CLI::Range(0, 4096));
  app.add_flag(
      "--write", f.write,
      "Save the chosen setting into the model's config.pbtxt (old file: config.pbtxt.bak)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  SetUpLogging({});
  const int cpus = f.cpus > 0 ? f.cpus : AvailableCpus();
  spdlog::info("ptserve-tune; {}; planning for {} CPU(s); {}", TorchBuildInfo(), cpus,
               ConfigureBlasThreads());

  absl::Status name_ok = ModelRepository::CheckModelName(f.model);
  if (!name_ok.ok()) {
    std::cerr << "ptserve-tune: " << name_ok.message() << "\n";
    return 2;
  }
  absl::StatusOr<LoadPlan> plan = PlanModel(f.model_repository, f.model, std::nullopt);
  if (!plan.ok()) {
    std::cerr << "ptserve-tune: " << plan.status().message() << "\n";
    return 1;
  }
  config::ModelConfig request = plan->config;
  (*request.mutable_parameters())["AUTOTUNE"].set_string_value("true");
  if (f.p99_us > 0) {
    (*request.mutable_parameters())["AUTOTUNE_P99_US"].set_string_value(std::to_string(f.p99_us));
  }

  OperatorLibraries operator_libraries;
  PyTorchBackends backends({});
  ModelRepository::Options options;
  options.root = f.model_repository;
  options.backend = &backends.dispatch();
  options.available_cpus = cpus;
  options.autotune_budget_ms = f.budget_ms;
  options.exchange_blas_threads = ExchangeBlasThreads;
  options.load_operator_library = [&operator_libraries](const std::string& path,
                                                        const std::string& origin) {
    return operator_libraries.Load(path, origin);
  };
  absl::StatusOr<std::unique_ptr<ModelRepository>> repository = ModelRepository::Create(options);
  if (!repository.ok()) {
    std::cerr << "ptserve-tune: " << repository.status().message() << "\n";
    return 1;
  }
  if (absl::Status s = (*repository)->Load(f.model, request); !s.ok()) {
    std::cerr << "ptserve-tune: model '" << f.model << "' failed to load: " << s.message() << "\n";
    return 1;
  }
  absl::StatusOr<std::shared_ptr<ModelVersion>> version = (*repository)->Get(f.model, "");
  if (!version.ok() || !(*version)->autotune()) {
    std::cerr << "ptserve-tune: model '" << f.model << "' could not be tuned"
              << (version.ok() ? " (see the warnings above)" : "") << "\n";
    return 1;
  }
  const AutotuneResult& tuned = *(*version)->autotune();
  std::cout << "model '" << f.model << "' version " << (*version)->version() << ", " << cpus
            << " CPU(s):\n"
            << FormatAutotuneTable(tuned) << "\n";
  const std::string text = TunedConfigText((*version)->config());
  if (!f.write) {
    std::cout << "(not written; --write saves this config)\n" << text;
    return 0;
  }
  const fs::path config_path = fs::path(f.model_repository) / f.model / "config.pbtxt";
  if (absl::Status s = WriteConfig(config_path, text); !s.ok()) {
    std::cerr << "ptserve-tune: " << s.message() << "\n";
    return 1;
  }
  std::cout << "written: " << config_path.string() << " (the old config: config.pbtxt.bak)\n";
  return 0;
}

}  // namespace
}  // namespace ptserve

int main(int argc, char** argv) { return ptserve::Run(argc, argv); }
