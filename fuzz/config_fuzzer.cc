// Fuzzes config.pbtxt handling as the repository does it at load: ParseModelConfig, then (the
// repository fills in the name from the directory) ValidateModelConfig; also the field
// warnings and the JSON that GET /v2/models/{m}/config returns, for every config that parses.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/model_config.h"
#include "config/model_config_validation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = ptserve::ParseModelConfig(text, "models/fuzz/config.pbtxt");
  if (!parsed.ok()) return 0;
  ptserve::config::ModelConfig& config = parsed->config;
  if (config.name().empty()) config.set_name("fuzz");
  (void)ptserve::ValidateModelConfig(config, "models/fuzz/config.pbtxt");
  (void)ptserve::UnsupportedFieldWarnings(config);
  (void)ptserve::ModelConfigToJson(config);
  for (const auto& input : config.input()) (void)ptserve::ToCoreDataType(input.data_type());
  return 0;
}
