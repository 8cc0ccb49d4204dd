// CatchTorch: the one place libtorch's exceptions become a Status (the
// request path returns errors as values; see STYLE.md).
//
//   ASSIGN_OR_RETURN(torch::jit::Module m,
//                    CatchTorch(absl::StatusCode::kInvalidArgument, "cannot load m.pt",
//                               [&] { return torch::jit::load(path); }));
//
// `code` is what a libtorch error means at this call: a model that fails at
// run time is kInternal (the server's side: 500, counted as a server error),
// a file that does not load is kInvalidArgument. Running out of memory is
// kResourceExhausted wherever it happens. Libtorch headers: backend only.
#ifndef PTSERVE_BACKEND_TORCH_CALL_H_
#define PTSERVE_BACKEND_TORCH_CALL_H_

#include <c10/util/Exception.h>

#include <algorithm>
#include <new>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace ptserve {

// The first non-empty line of a libtorch message, bounded (they can run to pages).
inline std::string ShortTorchError(const std::string& what, size_t limit = 1000) {
  const size_t start = std::min(what.find_first_not_of(" \n\r\t"), what.size());
  std::string s = what.substr(start, what.find('\n', start) - start);
  return s.size() > limit ? s.substr(0, limit) + "..." : s;
}

template <typename Fn>
auto CatchTorch(absl::StatusCode code, absl::string_view what, Fn&& fn)
    -> absl::StatusOr<decltype(fn())> {
  try {
    return fn();
  } catch (const c10::Error& e) {
    return absl::Status(code, absl::StrCat(what, ": ", ShortTorchError(e.what_without_backtrace())));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory"));
  } catch (const std::exception& e) {
    return absl::Status(code, absl::StrCat(what, ": ", ShortTorchError(e.what())));
  }
}

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_TORCH_CALL_H_
