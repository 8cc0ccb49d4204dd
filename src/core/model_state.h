// ModelState: where a model version is in its life, for the repository
// index, the model-state metric and the logs. One enum with its allowed
// transitions, instead of strings:
//
//   UNLOADED ──load──▶ LOADING ──ok──▶ READY ──unload──▶ UNLOADED
//                         │              │ ▲
//                       failed        reload (stays READY while the new
//                         ▼              │ │  load runs, and if it fails)
//                    UNAVAILABLE ──load──┘ └── LOADING
//
// A version in any state may be unloaded; a failed or unloaded one may be
// loaded again; a load that fails before any version starts (a bad config)
// goes from UNLOADED to UNAVAILABLE.
#ifndef PTSERVE_CORE_MODEL_STATE_H_
#define PTSERVE_CORE_MODEL_STATE_H_

#include <optional>
#include <string_view>

namespace ptserve {

enum class ModelState { kLoading, kReady, kUnavailable, kUnloaded };
inline constexpr int kModelStateCount = 4;

// "LOADING", "READY", "UNAVAILABLE", "UNLOADED" (Triton's index states).
const char* ModelStateName(ModelState state);
std::optional<ModelState> ParseModelState(std::string_view name);

// Whether a version may go from `from` to `to` (the picture above). Staying
// in a state is allowed (a reload that keeps serving stays READY).
bool IsAllowedTransition(ModelState from, ModelState to);

}  // namespace ptserve

#endif  // PTSERVE_CORE_MODEL_STATE_H_
