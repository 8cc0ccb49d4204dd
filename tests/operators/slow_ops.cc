// A library whose constructor hangs: the probe gives up after its timeout.
#include <unistd.h>

__attribute__((constructor)) static void Hang() { sleep(30); }
