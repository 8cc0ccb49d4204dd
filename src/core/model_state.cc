#include "core/model_state.h"

namespace ptserve {

const char* ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kLoading:
      return "LOADING";
    case ModelState::kReady:
      return "READY";
    case ModelState::kUnavailable:
      return "UNAVAILABLE";
    case ModelState::kUnloaded:
      return "UNLOADED";
  }
  return "UNAVAILABLE";
}

std::optional<ModelState> ParseModelState(std::string_view name) {
  for (int i = 0; i < kModelStateCount; ++i) {
    const auto state = static_cast<ModelState>(i);
    if (name == ModelStateName(state)) return state;
  }
  return std::nullopt;
}

bool IsAllowedTransition(ModelState from, ModelState to) {
  if (from == to || to == ModelState::kUnloaded) return true;
  switch (from) {
    case ModelState::kUnloaded:
      // A load that fails before any version starts (e.g. a bad config) goes straight
      // to UNAVAILABLE.
      return to == ModelState::kLoading || to == ModelState::kUnavailable;
    case ModelState::kLoading:
      return to == ModelState::kReady || to == ModelState::kUnavailable;
    case ModelState::kReady:
      return to == ModelState::kLoading;
    case ModelState::kUnavailable:
      return to == ModelState::kLoading;
  }
  return false;
}

}  // namespace ptserve
