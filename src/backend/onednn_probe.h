// Whether oneDNN (libtorch's MKLDNN) runs on this CPU. Seen on a Debian 13
// root (libtorch 2.6, libdnnl 3.7.2) in a 2-vCPU AMD EPYC VM: any operation
// on an MKLDNN-layout tensor died with SIGFPE (integer divide by zero inside
// libdnnl), so a model loaded with OPTIMIZE (optimize_for_inference converts
// convolutions to the MKLDNN layout) killed the whole server at warm-up. A
// signal cannot be caught, so the check runs the operation in a forked child
// once, at start-up, before ptserve starts any thread. Where it fails, the
// default quantized engine becomes FBGEMM (2.x's "x86" engine uses oneDNN).
#ifndef PTSERVE_BACKEND_ONEDNN_PROBE_H_
#define PTSERVE_BACKEND_ONEDNN_PROBE_H_

#include <string>

namespace ptserve {

// Empty when MKLDNN-layout operations work (or libtorch has no MKLDNN);
// otherwise why not, e.g. "a probe died with signal 8 (Floating point
// exception)". The first call runs the probe (call it from main() before any
// thread starts); later calls return the same answer.
const std::string& OneDnnFailure();

}  // namespace ptserve

#endif  // PTSERVE_BACKEND_ONEDNN_PROBE_H_
