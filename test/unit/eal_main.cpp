// gtest main for tests that need DPDK's EAL (memory for rte_lpm, mbufs):
// the same minimal EAL as the program tests, without hugepages or devices.
#include <rte_eal.h>

#include <cstdio>

#include "gtest/gtest.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  char arg0[] = "softfino_unit";
  char a1[] = "--no-huge", a2[] = "--no-shconf", a3[] = "-m", a4[] = "512", a5[] = "--no-pci",
       a6[] = "-l", a7[] = "0", a8[] = "--no-telemetry", a9[] = "--log-level=error";
  char* eal_argv[] = {arg0, a1, a2, a3, a4, a5, a6, a7, a8, a9};
  if (rte_eal_init(sizeof(eal_argv) / sizeof(eal_argv[0]), eal_argv) < 0) {
    std::fprintf(stderr, "cannot initialise EAL\n");
    return 1;
  }
  const int rc = RUN_ALL_TESTS();
  rte_eal_cleanup();
  return rc;
}
