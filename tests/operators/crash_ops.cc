// A library whose constructor crashes (as a library built for another
// libtorch may): loading it must fail the model that asked, not the server.
#include <signal.h>

__attribute__((constructor)) static void Crash() { raise(SIGSEGV); }
