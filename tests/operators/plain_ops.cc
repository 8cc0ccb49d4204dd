// A library with a constructor and no operators: the unit tests count how
// often it was loaded into the test process (the probe loads it in a child).
extern "C" {
int ptserve_test_plain_loads = 0;
}

__attribute__((constructor)) static void CountLoad() { ++ptserve_test_plain_loads; }
