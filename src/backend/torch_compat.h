// The few libtorch calls whose names differ between the versions ptserve
// builds against (Debian 12's 1.13, Debian 13's 2.6): one function each, so
// the rest of the backend reads the same on both. Backend .cc files only.
#ifndef PTSERVE_BACKEND_TORCH_COMPAT_H_
#define PTSERVE_BACKEND_TORCH_COMPAT_H_

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace ptserve::torch_compat {

// CPU autocast state of the calling thread (2.4 made these per device type).
inline bool CpuAutocastEnabled() {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4 || TORCH_VERSION_MAJOR > 2
  return at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}

inline at::ScalarType CpuAutocastDtype() {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4 || TORCH_VERSION_MAJOR > 2
  return at::autocast::get_autocast_dtype(at::kCPU);
#else
  return at::autocast::get_autocast_cpu_dtype();
#endif
}

inline void SetCpuAutocast(bool enabled, at::ScalarType dtype) {
#if TORCH_VERSION_MAJOR >= 2 && TORCH_VERSION_MINOR >= 4 || TORCH_VERSION_MAJOR > 2
  at::autocast::set_autocast_enabled(at::kCPU, enabled);
  at::autocast::set_autocast_dtype(at::kCPU, dtype);
#else
  at::autocast::set_cpu_enabled(enabled);
  at::autocast::set_autocast_cpu_dtype(dtype);
#endif
}

}  // namespace ptserve::torch_compat

#endif  // PTSERVE_BACKEND_TORCH_COMPAT_H_
